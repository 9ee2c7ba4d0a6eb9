# Source: cityofaustin/atd-prefect, flows/vision_zero/afd_incident_upload_basic.py
#   ("AFD Incident Uploads").
# Idioms: `data.set_upstream(upload)` and `cleanup.set_upstream(pg_upload)` on task
#   results inside a `with Flow(...)` block (ordering without data); a plain Python
#   `if ONLY_SIXTY:` choosing which tasks enter the flow at build time; a client object
#   returned by one task and passed to others; tasks that return None; f.run().
# Made offline: boto3/S3, the e-mail parsing, pandas and psycopg2 are small in-memory
#   stand-ins; get_timestamp returns a fixed string.
from prefect import Flow, task

OBSERVED = []


class FakeS3:
    objects = {"atd-afd/1": "raw email 1", "atd-afd/2": "raw email 2 with attachment"}

    def newest(self, bucket):
        return sorted(self.objects)[-1]

    def upload_file(self, local, bucket, key):
        OBSERVED.append(["upload", bucket, key])

    def __repr__(self):
        return "FakeS3()"


@task
def get_timestamp():
    return "2021-6-1-3-30-0"


@task
def create_boto_client():
    return FakeS3()


@task
def get_most_recent_email(bucket, client):
    key = client.newest(bucket)
    return {"Key": key, "Body": client.objects[key]}


@task
def extract_email_attachment(email_file):
    return email_file["Body"].split(" with ")[-1]


@task
def upload_attachment_to_S3(attachment, timestamp, aws_s3_client):
    aws_s3_client.upload_file("/tmp/attach.csv", "atd-afd-incident-data",
                              "attachments/upload-" + timestamp + ".xlsx")


@task
def create_and_parse_dataframe():
    return [{"Incident_Number": 1, "Inc_Date": "2021-05-30"},
            {"Incident_Number": 2, "Inc_Date": "2021-03-01"}]


@task
def filter_data_to_last_sixty_days(data):
    return [row for row in data if row["Inc_Date"] > "2021-04-01"]


@task
def upload_data_to_postgres(data):
    OBSERVED.append(["insert", len(data)])


@task
def clean_up():
    OBSERVED.append(["clean_up"])


def build():
    with Flow("afd_incident_upload") as f:
        timestamp = get_timestamp()
        aws_s3_client = create_boto_client()
        newest_email = get_most_recent_email("atd-afd-incident-data", aws_s3_client)
        attachment = extract_email_attachment(newest_email)
        upload = upload_attachment_to_S3(attachment, timestamp, aws_s3_client)
        data = create_and_parse_dataframe()
        data.set_upstream(upload)

        ONLY_SIXTY = False

        if ONLY_SIXTY:
            sixty_day_data = filter_data_to_last_sixty_days(data)
            pg_upload = upload_data_to_postgres(sixty_day_data)
        else:
            pg_upload = upload_data_to_postgres(data)

        cleanup = clean_up()
        cleanup.set_upstream(pg_upload)
    return f, {}
