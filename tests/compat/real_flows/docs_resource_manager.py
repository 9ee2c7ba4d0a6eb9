# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/resource-manager.md.
# Idioms: `from prefect import resource_manager` on a class with __init__, setup() and
#   cleanup(resource); `with DaskCluster(n_workers=n_workers) as client:` inside a Flow
#   block, tasks using the resource inside it and one outside it; a Parameter with
#   default None.
# Made offline: the "cluster" is an in-memory object and the CSV is a list; the
#   two classes got a __repr__ (their instances are task results).
from prefect import Flow, task, resource_manager, Parameter

OBSERVED = []


class FakeClient:
    def __init__(self, n_workers):
        self.n_workers = n_workers
        self.closed = False

    def close(self):
        self.closed = True

    def __repr__(self):
        return f"FakeClient({self.n_workers})"


@resource_manager
class DaskCluster:
    """Create a temporary dask cluster.

    Args:
        - n_workers (int, optional): The number of workers to start.
    """
    def __init__(self, n_workers=None):
        self.n_workers = n_workers

    def __repr__(self):
        return f"DaskCluster(n_workers={self.n_workers})"

    def setup(self):
        """Create a temporary dask cluster, returning the `Client`"""
        OBSERVED.append(["setup", self.n_workers])
        return FakeClient(self.n_workers)

    def cleanup(self, client):
        """Shutdown the temporary dask cluster"""
        client.close()
        OBSERVED.append(["cleanup", client.closed])


@task
def load_data():
    """Load some data"""
    return [3, 1, 2]


@task
def summarize(df, client):
    """Compute a summary on the data"""
    return {"count": len(df), "max": max(df), "workers": client.n_workers}


@task
def write_csv(df, path):
    """Write the summary to disk as a csv"""
    OBSERVED.append(["write", path, df])
    return path


def build():
    with Flow("dask-example") as flow:
        n_workers = Parameter("n_workers", default=None)
        out_path = Parameter("out_path", default="summary.csv")

        with DaskCluster(n_workers=n_workers) as client:
            df = load_data()
            summary = summarize(df, client)

        write_csv(summary, out_path)
    return flow, [{}, {"n_workers": 2}]
