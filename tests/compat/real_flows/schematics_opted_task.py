# Source: znicholasbrown/project-schematics, flows/Task_Run_Names.py ("Query a single
#   host").
# Idioms: a Task subclass hierarchy whose base __init__ calls `super().__init__(kwargs)`
#   -- the kwargs dict passed positionally, i.e. as the task's name (empty here, so the
#   class name is used); an attribute set in __init__ and overwritten in run(); a
#   Parameter with a nested dict default passed by keyword.
from prefect import Flow, Task, Parameter


class OptedTask(Task):
    def __init__(self, opts=None, **kwargs):
        # This lets you instantitate opts at build time
        self.opts = opts
        super().__init__(kwargs)

    def get_host_from_kv(self):
        return self.opts["kwopts"]["host"]


class Useful(OptedTask):
    def run(self, opts):
        # This lets you instantiate opts at runtime
        self.opts = opts
        host = self.get_host_from_kv()
        return host


def build():
    with Flow("Query a single host") as flow:
        opts_param = Parameter("opts", default={"kwopts": {"host": "host"}})

        apt = Useful()

        apt(opts=opts_param)
    return flow, [{}, {"opts": {"kwopts": {"host": "db.internal"}}}]
