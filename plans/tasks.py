"""Plan jobs: deleting a deleted plan's check-ins, one for each day it was followed.

delete_check_ins.delay(user_id=u, plan_id=p)   # via jobs.services.enqueue
"""

from celery import shared_task

from dynamo.plans import plans_table


@shared_task(name="plans.delete_check_ins")
def delete_check_ins(*, user_id: str, plan_id: str) -> None:
    """Delete the check-ins of a plan that is no longer stored (none while it is).

    Safe to run twice: a second run finds less, or nothing, to delete.
    """
    plans_table().delete_check_ins(user_id, plan_id)
