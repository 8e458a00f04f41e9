"""Erase one account and everything it holds, as DELETE /users/me does.

    python manage.py erase_user --email ana@example.com          # asks to confirm
    python manage.py erase_user --email ana@example.com --yes    # for scripts

Finds the account by its email claim, or through the ``email-index`` when an erasure
was interrupted after the claim went; running it again finishes an interrupted one.
"""

from django.core.management.base import CommandError

from accounts.services import normalize_email
from dermalens_site.commands import DataCommand
from ops.services import record_command_action
from privacy import selectors, services


class Command(DataCommand):
    help = "Erase an account: its profile, scans, images, plans, check-ins and chat."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="the account's email address")
        parser.add_argument("--yes", action="store_true", help="do not ask to confirm")

    def handle(self, *args, email: str, yes: bool, **options):
        email = normalize_email(email)
        user_id = selectors.find_account_id(email=email)
        if user_id is None:
            raise CommandError(f"No account has the email {email!r} (nothing to erase).")
        if not yes and not self.confirmed(email, user_id):
            raise CommandError("Aborted; nothing was erased.")
        services.erase_account(user_id=user_id, email=email)
        record_command_action(
            action="erase_account",
            target_user_id=user_id,
        )
        self.stdout.write(f"Erased the account {user_id} ({email}).")

    def confirmed(self, email: str, user_id: str) -> bool:
        self.stdout.write(
            f"This erases the account {user_id} ({email}) and all its data, for good."
        )
        try:
            answer = input("Type 'yes' to erase it: ")
        except EOFError:
            answer = ""
        return answer.strip().lower() == "yes"
