"""The GraphQL documents the Dagster flavour sends (names and ids travel as variables).

Every union selects ``__typename`` and the error fields, so an error always says what
happened; run listings select :data:`~._dagster_parse.RUN_FIELDS`.
"""

from __future__ import annotations

from flowwidgets.sources._dagster_gql import ERROR_FIELDS as ERR
from flowwidgets.sources._dagster_parse import RUN_FIELDS

__all__ = ["CAPTURED", "EVENTS", "JOBS", "JOB_PLAN", "LAUNCH", "POLL", "REEXECUTE", "RUN",
           "RUNS", "STEP_STATS", "TERMINATE", "TOUCHED"]

JOBS = ("query FwJobs { repositoriesOrError { " + ERR + " ... on RepositoryConnection { "
        "nodes { name location { name } jobs { name description schedules { name "
        "cronSchedule executionTimezone scheduleState { status nextTick { timestamp } } } "
        "sensors { name } } } } } }")
RUNS = ("query FwRuns($filter: RunsFilter, $limit: Int) { runsOrError(filter: $filter, "
        "limit: $limit) { " + ERR + " ... on Runs { count results { " + RUN_FIELDS + " } } } }")
STEP_STATS = ("query FwFailedSteps($filter: RunsFilter) { runsOrError(filter: $filter) { "
              + ERR + " ... on Runs { results { runId stepStats { stepKey status } } } } }")
RUN = ("query FwRun($runId: ID!) { runOrError(runId: $runId) { " + ERR + " ... on Run { "
       + RUN_FIELDS + " canTerminate hasReExecutePermission hasTerminatePermission "
       "stepKeysToExecute runConfig pipelineSnapshotId "
       "executionPlan { steps { key inputs { dependsOn { key } } } } "
       "stepStats { stepKey status startTime endTime attempts { startTime endTime } } } } }")
JOB_PLAN = ("query FwJobPlan($job: PipelineSelector!, $config: RunConfigData) { "
            "executionPlanOrError(pipeline: $job, mode: \"default\", runConfigData: $config) "
            "{ " + ERR + " ... on ExecutionPlan { steps { key inputs { dependsOn { key } } } } "
            "} }")
_ERROR = "message className stack"
EVENTS = ("query FwRunEvents($runId: ID!, $after: String, $limit: Int) { logsForRun(runId: "
          "$runId, afterCursor: $after, limit: $limit) { " + ERR + " ... on EventConnection "
          "{ cursor hasMore events { __typename ... on MessageEvent { message stepKey level "
          "timestamp } ... on ExecutionStepFailureEvent { error { " + _ERROR + " cause { "
          + _ERROR + " } } } ... on LogsCapturedEvent { fileKey stepKeys } } } } }")
CAPTURED = ("query FwCapturedLogs($logKey: [String!]!) { capturedLogs(logKey: $logKey) { "
            "stdout stderr } }")
POLL = ("query FwPoll($filter: RunsFilter, $limit: Int) { runsOrError(filter: $filter, "
        "limit: $limit) { " + ERR + " ... on Runs { results { " + RUN_FIELDS + " } } } "
        "workspaceOrError { " + ERR + " ... on Workspace { locationEntries { name "
        "updatedTimestamp } } } repositoriesOrError { " + ERR + " ... on RepositoryConnection "
        "{ nodes { name schedules { name scheduleState { status } } } } } }")
TOUCHED = ("query FwTouched($filter: RunsFilter, $limit: Int) { runsOrError(filter: $filter, "
           "limit: $limit) { " + ERR + " ... on Runs { results { " + RUN_FIELDS + " } } } }")
_LAUNCHED = "__typename ... on LaunchRunSuccess { run { runId } } " + ERR
LAUNCH = ("mutation FwLaunchRun($params: ExecutionParams!) { launchRun(executionParams: "
          "$params) { " + _LAUNCHED + " } }")
REEXECUTE = ("mutation FwReexecute($exec: ExecutionParams, $re: ReexecutionParams) { "
             "launchRunReexecution(executionParams: $exec, reexecutionParams: $re) { "
             + _LAUNCHED + " } }")
TERMINATE = ("mutation FwTerminate($runId: String!) { terminateRun(runId: $runId, "
             "terminatePolicy: SAFE_TERMINATE) { __typename ... on TerminateRunSuccess { run "
             "{ runId status } } ... on TerminateRunFailure { message } " + ERR + " } }")
