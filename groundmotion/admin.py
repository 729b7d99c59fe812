"""Curation in the admin. Maps use django-leaflet's widgets."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from leaflet.admin import LeafletGeoAdmin

from groundmotion import access, cells, curation
from groundmotion.models import (
    CornerReflector,
    Dataset,
    DownloadRecord,
    GNSSNetwork,
    GNSSStation,
    MaskedArea,
    ProcessingJob,
    ReflectorMeasurement,
    Status,
)


class GroupActionForm(ActionForm):
    """The admin action bar with a group chooser, for 'restrict to group'."""

    group = forms.ModelChoiceField(
        queryset=Group.objects.all(), required=False, label="Group (for restrict)"
    )


@admin.register(Dataset)
class DatasetAdmin(LeafletGeoAdmin):
    list_display = [
        "slug",
        "name",
        "level",
        "pass_direction",
        "component",
        "status",
        "visibility",
        "point_count",
        "first_date",
        "last_date",
        "download_policy",
        "version",
        "updated_at",
    ]
    list_filter = ["level", "pass_direction", "status", "visibility", "download_policy"]
    search_fields = ["slug", "name", "description"]
    filter_horizontal = ["allowed_groups", "download_groups"]
    readonly_fields = [
        "point_count",
        "first_date",
        "last_date",
        "date_count",
        "version",
        "created_at",
        "updated_at",
        "provenance",
        "metadata",
        "acquisition_dates",
    ]
    action_form = GroupActionForm
    actions = ["publish", "unpublish", "restrict_to_group"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        # Staff without curation rights see only what access.py lets them see.
        return access.visible_datasets(request.user)

    @admin.display(description="First date")
    def first_date(self, dataset: Dataset) -> object:
        return dataset.acquisition_dates[0] if dataset.acquisition_dates else None

    @admin.display(description="Last date")
    def last_date(self, dataset: Dataset) -> object:
        return dataset.acquisition_dates[-1] if dataset.acquisition_dates else None

    @admin.display(description="Dates")
    def date_count(self, dataset: Dataset) -> int:
        return len(dataset.acquisition_dates)

    @admin.action(description="Publish the selected datasets", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        changed = curation.set_status(queryset, Status.PUBLISHED)
        self.message_user(request, f"Published {changed} dataset(s).", messages.SUCCESS)

    @admin.action(description="Unpublish (back to draft)", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        changed = curation.set_status(queryset, Status.DRAFT)
        self.message_user(request, f"Unpublished {changed} dataset(s).", messages.SUCCESS)

    @admin.action(
        description="Restrict the selected datasets to the chosen group", permissions=["change"]
    )
    def restrict_to_group(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        group = Group.objects.filter(pk=request.POST.get("group") or None).first()
        if group is None:
            self.message_user(request, "Choose a group first.", messages.ERROR)
            return
        changed = curation.restrict_to_groups(queryset, [group])
        self.message_user(request, f"Restricted {changed} dataset(s) to {group}.", messages.SUCCESS)


@admin.register(GNSSNetwork)
class GNSSNetworkAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "reference_frame", "epoch"]


@admin.register(GNSSStation)
class GNSSStationAdmin(LeafletGeoAdmin):
    list_display = ["code", "network", "velocity_east", "velocity_north", "velocity_up"]
    list_filter = ["network"]
    search_fields = ["code"]


class ReflectorMeasurementInline(admin.TabularInline):
    model = ReflectorMeasurement
    extra = 0


@admin.register(CornerReflector)
class CornerReflectorAdmin(LeafletGeoAdmin):
    list_display = ["code", "leg_length", "install_date"]
    inlines = [ReflectorMeasurementInline]


@admin.register(MaskedArea)
class MaskedAreaAdmin(LeafletGeoAdmin):
    """Masks drawn on a Leaflet map. Saving or deleting one rebuilds the tile cells of every
    affected dataset (before and after the change) and bumps its version, so cells, cached
    tiles and aggregates follow the mask."""

    list_display = ["name", "active", "created_at"]
    filter_horizontal = ["datasets"]

    def save_related(self, request: HttpRequest, form: forms.ModelForm, *args, **kwargs) -> None:
        before = set()
        if form.instance.pk:
            before = set(curation.datasets_under_mask(form.instance).values_list("pk", flat=True))
        super().save_related(request, form, *args, **kwargs)
        after = curation.datasets_under_mask(form.instance).values_list("pk", flat=True)
        cells.refresh_datasets(before | set(after))

    def delete_model(self, request: HttpRequest, area: MaskedArea) -> None:
        affected = list(curation.datasets_under_mask(area).values_list("pk", flat=True))
        super().delete_model(request, area)
        cells.refresh_datasets(affected)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MaskedArea]) -> None:
        affected: set[int] = set()
        for area in queryset:
            affected |= set(curation.datasets_under_mask(area).values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        cells.refresh_datasets(affected)


@admin.register(ProcessingJob)
class ProcessingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "progress", "user", "created_at", "finished_at"]
    list_filter = ["kind", "state"]
    search_fields = ["user__username", "message"]
    readonly_fields = ["created_at", "started_at", "finished_at"]


AUDIT_COLUMNS = ["created_at", "user", "datasets", "format", "point_count", "byte_count", "area"]


@admin.register(DownloadRecord)
class DownloadRecordAdmin(LeafletGeoAdmin):
    """The download audit: read-only, searchable, exportable as CSV."""

    list_display = ["created_at", "user", "dataset_slugs", "format", "point_count", "byte_count"]
    list_filter = ["format", "created_at"]
    search_fields = ["user__username", "user__email", "datasets__slug"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DownloadRecord]:
        return super().get_queryset(request).select_related("user").prefetch_related("datasets")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Datasets")
    def dataset_slugs(self, record: DownloadRecord) -> str:
        return ", ".join(dataset.slug for dataset in record.datasets.all())

    @admin.action(description="Export the selected records as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[DownloadRecord]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="download-audit.csv"'
        writer = csv.writer(response)
        writer.writerow(AUDIT_COLUMNS)
        for record in queryset.select_related("user").prefetch_related("datasets"):
            area = record.area.wkt if record.area else ""
            writer.writerow(
                [
                    record.created_at.isoformat(),
                    record.user.get_username(),
                    self.dataset_slugs(record),
                    record.format,
                    record.point_count,
                    record.byte_count,
                    area,
                ]
            )
        return response
