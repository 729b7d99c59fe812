"""Curation in the admin. Maps use django-leaflet's widgets on the shared base map, with the
datasets' extents and tiles under them (static/js/admin-map.js)."""

from __future__ import annotations

import csv
import threading

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from leaflet.admin import LeafletGeoAdmin

from groundmotion import access, cells, curation
from groundmotion.map_views import basemap_config
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
from groundmotion.validation import gnss_validation

# Rendered by the form renderer, which reads app templates only.
MAP_WIDGET = "groundmotion/admin_map_widget.html"
MAP_CHANGE_FORM = "admin/groundmotion/map_change_form.html"
MAP_DATASETS = 10
_request = threading.local()  # the user of the change form being drawn in this thread


def map_context(request: HttpRequest, datasets: QuerySet[Dataset]) -> dict:
    """What admin-map.js needs: the base map, and the datasets (at most MAP_DATASETS) whose
    extents and tiles it shows, as the user may see them."""
    shown = access.visible_datasets(request.user).filter(pk__in=datasets.values("pk"))
    return {
        "gm_admin_map": {
            "basemap": basemap_config(),
            "tileUrl": "/tiles/{slug}/{z}/{x}/{y}.pbf",
            "datasets": [
                {"slug": dataset.slug, "extent": list(dataset.extent.extent)}
                if dataset.extent
                else {"slug": dataset.slug, "extent": None}
                for dataset in shown.order_by("slug")[:MAP_DATASETS]
            ],
        }
    }


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
        "area",
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
    list_filter = ["area", "level", "pass_direction", "status", "visibility", "download_policy"]
    search_fields = ["slug", "name", "area", "description"]
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
        "gnss_validation",
        "metadata",
        "acquisition_dates",
    ]
    action_form = GroupActionForm
    actions = ["publish", "unpublish", "restrict_to_group"]
    map_template = MAP_WIDGET
    change_form_template = MAP_CHANGE_FORM

    def formfield_for_dbfield(self, db_field, request=None, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "extent" and field is not None:
            # Computed at load time: shown, not drawn.
            field.widget.modifiable = False
        return field

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        _request.user = request.user  # for the read-only GNSS validation, in this thread
        datasets = Dataset.objects.filter(pk=object_id) if object_id else Dataset.objects.none()
        context = {**map_context(request, datasets), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, context)

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

    @admin.display(description="GNSS validation")
    def gnss_validation(self, dataset: Dataset) -> SafeString:
        # The template escapes every value; station codes come from uploaded files.
        user = getattr(_request, "user", None)
        rows = user is not None and access.sees_station_ties(user, dataset)
        report = gnss_validation(dataset, with_stations=rows)
        html = render_to_string("groundmotion/gnss_validation.html", {"report": report})
        return mark_safe(html)

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
    map_template = MAP_WIDGET
    change_form_template = MAP_CHANGE_FORM

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The mask's datasets; a new mask, or one on every dataset, shows all the curator sees.
        datasets = Dataset.objects.filter(masked_areas=object_id) if object_id else None
        if not datasets:
            datasets = Dataset.objects.all()
        context = {**map_context(request, datasets), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, context)

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
