"""template.yaml invariants, each its own test (see invariants.py for the rules)."""

from __future__ import annotations

from typing import Any

from . import invariants as inv
from . import receiver_invariants as rinv
from . import watch_invariants as winv

Template = dict[str, Any]


def test_visibility_timeout_covers_six_function_timeouts_plus_batching_window(
    template: Template,
) -> None:
    assert inv.check_visibility_timeout(template) == []


def test_max_receive_count_is_at_least_five(template: Template) -> None:
    assert inv.check_max_receive_count(template) == []


def test_dead_letter_queue_keeps_messages_fourteen_days(template: Template) -> None:
    assert inv.check_dead_letter_queue(template) == []


def test_report_batch_item_failures_is_on(template: Template) -> None:
    assert inv.check_report_batch_item_failures(template) == []


def test_event_source_mapping_settings_are_parameters(template: Template) -> None:
    assert inv.check_event_source_mapping_parameters(template) == []


def test_runtime_is_a_parameter_defaulting_to_python312(template: Template) -> None:
    assert inv.check_runtime(template) == []


def test_function_is_arm64_traced_with_json_logs_and_retention(template: Template) -> None:
    assert inv.check_function_settings(template) == []


def test_handler_and_requirements_exist_under_code_uri(template: Template) -> None:
    assert inv.check_function_code(template) == []


def test_env_var_scan_finds_the_settings_the_code_reads() -> None:
    # Guards the scanner itself: if it silently found nothing, the next test would pass.
    found = inv.env_vars_read_by_code()
    assert {
        "RESULTS_TABLE_NAME",
        "DEAD_LETTER_QUEUE_URL",
        "TRACKLY_SECRET_ID",
        "TATANGO_BASE_URL",
        "MAX_RECEIVE_COUNT",
        "POWERTOOLS_METRICS_NAMESPACE",
    } <= found


def test_every_env_var_the_code_reads_is_set_on_the_function(template: Template) -> None:
    assert inv.check_environment_defined(template, inv.env_vars_the_template_must_set()) == []


def test_env_vars_are_wired_to_the_resources_they_name(template: Template) -> None:
    assert inv.check_environment_wiring(template) == []


def test_template_defaults_pass_the_code_start_up_validation(template: Template) -> None:
    assert inv.check_defaults_pass_settings(template) == []


def test_provider_timeout_fits_in_an_invocation(template: Template) -> None:
    assert inv.check_provider_timeout(template) == []


def test_no_iam_statement_with_a_wildcard_action_or_resource(template: Template) -> None:
    assert inv.check_no_iam_wildcards(template) == []


def test_function_role_allows_what_the_code_calls_on_its_own_resources_only(
    template: Template,
) -> None:
    assert inv.check_function_grants(template) == []


def test_aws_call_scan_finds_the_data_layer_calls() -> None:
    assert {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
    } <= inv.aws_actions_called_by_code()


def test_queues_table_secrets_and_topic_are_encrypted(template: Template) -> None:
    assert inv.check_encryption(template) == []


def test_every_queue_denies_non_tls_access(template: Template) -> None:
    assert inv.check_queues_deny_insecure_transport(template) == []


def test_secrets_are_empty_placeholders_with_the_fields_the_adapters_read(
    template: Template,
) -> None:
    assert inv.check_secret_placeholders(template) == []


def test_ledger_table_key_schema_matches_the_ledger_code(template: Template) -> None:
    assert inv.check_table(template) == []


def test_every_alarm_has_actions(template: Template) -> None:
    assert inv.check_alarm_actions(template) == []


def test_alarms_cover_dlq_age_errors_throttles_and_provider_failure_rate(
    template: Template,
) -> None:
    assert inv.check_alarms_cover(template) == []


def test_dashboard_shows_outcomes_latency_queues_and_function_health(template: Template) -> None:
    assert inv.check_dashboard(template) == []


def test_outputs_the_cli_needs_are_present(template: Template) -> None:
    assert inv.check_outputs(template) == []


def test_email_subscription_is_optional(template: Template) -> None:
    subscriptions = inv.of_type(template, "AWS::SNS::Subscription")
    assert subscriptions
    for subscription in subscriptions.values():
        condition = subscription.get("Condition")
        assert condition in (template.get("Conditions") or {})


def test_targets_table_key_schema_matches_the_store_code(template: Template) -> None:
    assert inv.check_targets_table(template) == []


# ------------------------------------------------------------------ the deadline watch


def test_function_code_is_what_each_handler_imports(template: Template) -> None:
    # Guards the import scan: the watch runs none of the relay's providers, the relay
    # none of the watch's index reading.
    relay = {path.name for path in inv.function_modules(template)}
    watch = {path.name for path in inv.function_modules(template, "DeadlineWatchFunction")}
    assert {"handler.py", "relay.py", "ledger.py", "tatango.py"} <= relay
    assert {"watch.py", "watcher.py", "opt_out_index.py", "deadline.py"} <= watch
    assert "opt_out_index.py" not in relay
    assert not {"settings.py", "ledger.py", "tatango.py", "secrets.py"} & watch


def test_the_ledger_has_the_received_day_index_the_code_queries(template: Template) -> None:
    assert winv.check_received_day_index(template) == []


def test_an_hourly_schedule_runs_the_watch_with_retries_and_a_dead_letter_queue(
    template: Template,
) -> None:
    assert winv.check_deadline_watch_schedule(template) == []


def test_the_watch_reads_the_relays_ledger_and_publishes_where_its_metrics_go(
    template: Template,
) -> None:
    assert winv.check_deadline_watch_function(template) == []


def test_due_soon_and_overdue_alarms_exist_are_wired_and_on_the_dashboard(template: Template) -> None:
    assert winv.check_deadline_alarms(template) == []


def test_the_watch_may_query_the_index_and_write_its_logs_only(template: Template) -> None:
    role = inv.function_role_id(template, "DeadlineWatchFunction")
    assert role is not None
    assert sorted(inv.grants(template, role)) == [
        "dynamodb:Query",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    assert inv.grants(template, role)["dynamodb:Query"] == [
        {"Fn::Sub": "${ResultsTable.Arn}/index/by-received-day"}
    ]


# ------------------------------------------------------------------ the webhook receiver


def test_the_relay_is_found_by_its_handler_among_several_functions(template: Template) -> None:
    relay_id, relay = inv.the_function(template)
    receiver_id, receiver = rinv.the_receiver(template)
    assert relay_id != receiver_id
    assert str(relay["Handler"]).startswith("optout_relay.")
    assert str(receiver["Handler"]).startswith("webhook_receiver.")


def test_env_var_scan_finds_the_settings_the_receiver_reads() -> None:
    assert {
        "WEBHOOK_SECRET_ID",
        "OPTOUT_QUEUE_URL",
        "RESULTS_TABLE_NAME",
    } <= rinv.env_vars_the_receiver_must_set()


def test_aws_call_scan_finds_the_receiver_data_layer_calls() -> None:
    assert inv.aws_calls_by_module(inv.RECEIVER_PACKAGE) == {
        "aws/queue.py": {"sqs:SendMessage"},
        "aws/ledger.py": {"dynamodb:Query"},
        "aws/secrets.py": {"secretsmanager:GetSecretValue"},
    }


def test_receiver_is_wired_to_the_relay_queue_ledger_and_its_own_secret(template: Template) -> None:
    assert rinv.check_receiver_wiring(template) == []


def test_receiver_role_allows_what_its_code_calls_on_its_own_resources_only(template: Template) -> None:
    assert rinv.check_receiver_grants(template) == []


def test_receiver_is_behind_a_public_function_url_with_a_short_timeout(template: Template) -> None:
    assert rinv.check_receiver_endpoint(template) == []


def test_webhook_secret_is_generated_with_the_keys_the_receiver_reads(template: Template) -> None:
    assert rinv.check_webhook_secret(template) == []


def test_receiver_has_alarms_and_a_dashboard_row(template: Template) -> None:
    assert rinv.check_receiver_monitoring(template) == []
