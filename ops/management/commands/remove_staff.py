"""Take an account's staff access away (someone leaves the team); the account stays.

    python manage.py remove_staff --email ops@example.com

Its ops sign-ins end at once (every ops request checks the account is still staff, and
``ops_session_version`` moves too); its API sessions are untouched. Recorded in the
audit log, with ``manage.py`` as the actor.
"""

from django.core.management.base import CommandError

from accounts.services import normalize_email, now_iso
from dermalens_site.commands import DataCommand
from dynamo.users import users_table
from ops.services import record_command_action


class Command(DataCommand):
    help = "Take an account's staff access away; its ops sign-ins end at once."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="the staff member's email")

    def handle(self, *args, email: str, **options):
        email = normalize_email(email)
        users = users_table()
        user_id = users.find_user_id(email)
        user = users.get(user_id) if user_id else None
        if user is None:
            raise CommandError(f"No account has the email {email!r}.")
        if not user.is_staff:
            self.stdout.write(f"{email} is not staff ({user.user_id}); nothing changed.")
            return
        users.set_staff(user.user_id, is_staff=False, updated_at=now_iso())
        users.end_ops_sessions(user.user_id, updated_at=now_iso())
        record_command_action(
            action="remove_staff",
            target_user_id=user.user_id,
        )
        self.stdout.write(f"{email} ({user.user_id}) is no longer staff.")
