"""Scale-to-zero Apache Airflow 3 on ECS Fargate and RDS PostgreSQL: read settings, compose, export."""

import pulumi

from infra.components.airflow_cluster import AirflowCluster, AirflowClusterArgs
from infra.components.airflow_service import SecretArnsInput
from infra.components.broker import Broker, BrokerArgs
from infra.components.database import Database, DatabaseArgs
from infra.components.image import AirflowImage, AirflowImageArgs
from infra.components.network import Network, NetworkArgs
from infra.components.operator_access import OperatorAccess, OperatorAccessArgs
from infra.components.secrets import AirflowSecrets, AirflowSecretsArgs
from infra.components.storage import Storage, StorageArgs
from infra.components.ui import WebUi, WebUiArgs
from infra.components.waker import Waker, WakerArgs
from infra.components.waking_page import WakingPage, WakingPageArgs
from infra.settings import read_stack_settings
from infra.stack_context import create_context

settings = read_stack_settings()
context = create_context(settings)
opts = context.options()

network = Network("network", NetworkArgs(context), opts)
database = Database("database", DatabaseArgs(context, network.database_subnet_ids, network.database_sg.id), opts)
secrets = AirflowSecrets("secrets", AirflowSecretsArgs(context, database.connection), opts)
storage = Storage("storage", StorageArgs(context), opts)
broker = Broker("broker", BrokerArgs(context), opts)
image = AirflowImage("image", AirflowImageArgs(context), opts)

ui = None
oidc_secret = None
if settings.ui.load_balancer:
    assert network.load_balancer_sg is not None
    oidc_secret = pulumi.Config().require_secret("uiOidcClientSecret") if settings.ui.oidc else None
    ui = WebUi(
        "ui",
        WebUiArgs(
            context,
            network.vpc_id,
            network.load_balancer_subnet_ids if settings.ui.scheme == "internet-facing" else network.task_subnet_ids,
            network.load_balancer_sg.id,
            oidc_secret,
        ),
        opts,
    )
waking_page = None
if ui is not None and settings.ui.wake_on_visit:
    waking_page = WakingPage("waking-page", WakingPageArgs(context, ui.https_listener.arn, oidc_secret), opts)

airflow = AirflowCluster(
    "airflow",
    AirflowClusterArgs(
        context=context,
        image_uri=image.image_uri,
        repository_arn=image.repository_arn,
        vpc_id=network.vpc_id,
        task_subnet_ids=network.task_subnet_ids,
        tasks_security_group_id=network.tasks_sg.id,
        api_server_security_group_id=network.api_server_sg.id,
        worker_security_group_id=network.worker_sg.id,
        triggerer_security_group_id=network.triggerer_sg.id,
        bucket_name=storage.bucket_name,
        bucket_arn=storage.bucket_arn,
        queue_url=broker.queue_url,
        queue_arn=broker.queue_arn,
        secret_arns=SecretArnsInput(airflow=secrets.arn),
        database_identifier=database.identifier,
        database_arn=database.arn,
        database_ready=[database.instance, database],
        database_resource_id=database.resource_id,
        secrets_version=secrets.version_id,
        secrets_ready=[secrets, database],
        ui_url=ui.url if ui else None,
        target_group_arn=ui.target_group_arn if ui else None,
        load_balancer_ready=[ui.https_listener] if ui else [],
    ),
    opts,
)

waker = Waker(
    "waker",
    WakerArgs(
        context=context,
        cluster_name=airflow.cluster_name,
        service_names=airflow.service_names,
        broker_queue_url=broker.queue_url,
        broker_queue_arn=broker.queue_arn,
        broker_queue_name=broker.queue_name,
        broker_parking_queue_url=broker.dead_letter_queue_url,
        broker_parking_queue_arn=broker.dead_letter_queue_arn,
        bucket_name=storage.bucket_name,
        database_identifier=database.identifier,
        database_arn=database.arn,
        load_balancer_arn_suffix=ui.load_balancer_arn_suffix if ui else None,
        target_group_arn_suffix=ui.target_group_arn_suffix if ui else None,
        api_target_group_arn=ui.target_group_arn if ui else None,
        listener_rule_arn=waking_page.rule_arn if waking_page else None,
    ),
    opts,
)

operators = OperatorAccess(
    "operators",
    OperatorAccessArgs(
        context=context,
        waker_function_arn=waker.function.arn,
        database_arn=database.arn,
        database_identifier=database.identifier,
        database_key_arn=database.key_arn,
        bucket_arn=storage.bucket_arn,
        cluster_name=airflow.cluster_name,
        service_names=airflow.service_names,
        migration_status_arn=airflow.migration.status.arn,
    ),
    opts,
)

pulumi.export("region", settings.region)
pulumi.export("airflowVersion", settings.image.airflow_version if not settings.image.uri else "from image")
pulumi.export("clusterName", airflow.cluster_name)
pulumi.export("serviceNames", airflow.service_names)
pulumi.export("logGroups", airflow.log_groups)
pulumi.export("uiUrl", ui.url if ui else airflow.execution_api_url.removesuffix("/execution/"))
pulumi.export("executionApiUrl", airflow.execution_api_url)
pulumi.export("dagBucket", storage.bucket_name)
pulumi.export("dagBundleUri", storage.bucket_name.apply(lambda b: f"s3://{b}/dags/"))
pulumi.export("brokerQueueUrl", broker.queue_url)
pulumi.export("brokerQueueName", broker.queue_name)
pulumi.export("databaseEndpoint", database.endpoint)
pulumi.export("databaseIdentifier", database.identifier)
# One secret holds the database connection (`conn`, `host`, ...), `fernet_key` and `admin_password`; a stack
# restored from this one's snapshot copies its `fernet_key` from it (secrets.fernetKeyFrom).
pulumi.export("airflowSecretArn", secrets.arn)
pulumi.export("imageUri", image.image_uri)
pulumi.export("migrationFunction", airflow.migration.runner.name)
pulumi.export("migrationStatusParameter", airflow.migration.status.name)
pulumi.export("wakerFunction", waker.function_name)
pulumi.export("alarmTopicArn", waker.alarm_topic.arn)
pulumi.export("dashboardName", waker.dashboard.dashboard_name if waker.dashboard else "")
pulumi.export("metricNamespace", context.metric_namespace)
pulumi.export("operatorPolicyArn", operators.policy_arn)
