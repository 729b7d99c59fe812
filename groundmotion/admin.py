"""Curation in the admin. Maps use django-leaflet's widgets."""

from __future__ import annotations

from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from groundmotion.models import (
    CornerReflector,
    Dataset,
    DownloadRecord,
    GNSSNetwork,
    GNSSStation,
    MaskedArea,
    ProcessingJob,
    ReflectorMeasurement,
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
        "version",
        "updated_at",
    ]
    list_filter = ["level", "pass_direction", "status", "visibility"]
    search_fields = ["slug", "name"]
    filter_horizontal = ["allowed_groups"]
    readonly_fields = [
        "point_count",
        "version",
        "created_at",
        "updated_at",
        "provenance",
        "metadata",
        "acquisition_dates",
    ]


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
    list_display = ["name", "active", "created_at"]
    filter_horizontal = ["datasets"]


@admin.register(ProcessingJob)
class ProcessingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "progress", "user", "created_at", "finished_at"]
    list_filter = ["kind", "state"]
    readonly_fields = ["created_at", "started_at", "finished_at"]


@admin.register(DownloadRecord)
class DownloadRecordAdmin(LeafletGeoAdmin):
    list_display = ["created_at", "user", "format", "point_count", "byte_count"]
    list_filter = ["format"]
    search_fields = ["user__username"]
