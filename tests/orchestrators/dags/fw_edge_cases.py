"""Airflow DAGs for recording edge cases (tests/orchestrators/record.py): a paused DAG with
a cron schedule, and a DAG with a mapped task (``expand``) that has one failing map index.
"""

from __future__ import annotations

from airflow.sdk import dag, task


@dag(dag_id="fw_paused", schedule="30 6 * * *", catchup=False, is_paused_upon_creation=True,
     tags=["flowwidgets"])
def fw_paused():
    @task
    def only() -> None:
        print("only")

    only()


@dag(dag_id="fw_mapped", schedule="@daily", catchup=False, tags=["flowwidgets"])
def fw_mapped():
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def square(n: int) -> int:
        if n == 3:
            raise ValueError("three is not allowed")
        return n * n

    @task(trigger_rule="all_done")
    def total(values: list[int]) -> None:
        print(sum(v for v in values if v is not None))

    total(square.expand(n=numbers()))


fw_paused()
fw_mapped()
