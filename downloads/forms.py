from __future__ import annotations

from django import forms

from groundmotion import access
from groundmotion.access import AnyUser
from groundmotion.exports.writers import Format
from groundmotion.models import Dataset
from groundmotion.quantities import level_label, quantity

FORMAT_CHOICES = [
    (Format.CSV, "CSV (EGMS columns)"),
    (Format.GPKG, "GeoPackage"),
    (Format.GEOTIFF, "GeoTIFF (L3 only)"),
]


def dataset_label(dataset: Dataset) -> str:
    """ "Dax ascending · L2a · LOS ascending": a dataset as people know it, not its slug (the
    level left out when the name already gives it)."""
    level = level_label(dataset.level)
    parts = [dataset.name, *([] if level in dataset.name else [level]), quantity(dataset)["short"]]
    return " · ".join(parts)


class DatasetChoice(forms.ModelChoiceField):
    def label_from_instance(self, dataset: Dataset) -> str:
        return dataset_label(dataset)


class DownloadForm(forms.Form):
    """The download dialog. Datasets offered are only those access.py lets the user download."""

    dataset = DatasetChoice(queryset=None, to_field_name="slug", empty_label=None)
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial=Format.CSV)
    bbox = forms.CharField(required=False, help_text="MINLON,MINLAT,MAXLON,MAXLAT, degrees")
    polygon = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="WKT polygon, WGS84 (drawn on the map)",
    )

    # The viewer's filters, brought by its "download these points" link (service.FILTERS).
    velocity_min = forms.FloatField(required=False, label="velocity ≥ (mm/yr)")
    velocity_max = forms.FloatField(required=False, label="velocity ≤ (mm/yr)")
    abs_velocity_min = forms.FloatField(required=False, label="|velocity| ≥ (mm/yr)")
    coherence_min = forms.FloatField(required=False, label="coherence ≥")

    def __init__(self, user: AnyUser, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = access.downloadable_datasets(user).order_by(
            "name", "slug"
        )
