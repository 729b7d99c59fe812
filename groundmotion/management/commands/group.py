"""The curator's command for groups: create one, add or remove members, list it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Create a group if it does not exist, then --add or --remove users (repeatable). "
        "Prints the group's members and the datasets it opens. Restricted datasets name "
        "their groups with `dataset SLUG --group NAME`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--add", action="append", default=[], metavar="USERNAME")
        parser.add_argument("--remove", action="append", default=[], metavar="USERNAME")

    def handle(self, *args: Any, name: str, add: list[str], remove: list[str], **_: Any) -> None:
        wanted = set(add) | set(remove)
        users = {user.username: user for user in User.objects.filter(username__in=wanted)}
        unknown = sorted(wanted - users.keys())
        if unknown:
            raise CommandError(f"no such user(s): {', '.join(unknown)}")
        with transaction.atomic():
            group, created = Group.objects.get_or_create(name=name)
            group.user_set.add(*(users[username] for username in add))
            group.user_set.remove(*(users[username] for username in remove))
        members = sorted(group.user_set.values_list("username", flat=True))
        datasets = sorted(group.datasets.values_list("slug", flat=True))
        self.stdout.write(
            f"{name}{' (created)' if created else ''}: members {', '.join(members) or 'none'}; "
            f"datasets {', '.join(datasets) or 'none'}"
        )
