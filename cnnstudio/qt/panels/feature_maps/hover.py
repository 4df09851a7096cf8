"""What ``hovered`` carries: the map cell pointed at, its receptive field and the arithmetic behind it."""
from __future__ import annotations

from dataclasses import dataclass

from cnnstudio.core.receptive_field import KernelCell, MapTarget, ReceptiveField, Rect


@dataclass(frozen=True)
class MapHover:
    """What ``hovered`` carries: the cell pointed at, its receptive field and the arithmetic as text."""

    target: MapTarget
    field: ReceptiveField
    text: str

    @property
    def stage(self) -> int:
        return self.target.stage

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def filter(self) -> int:
        return self.target.filter

    @property
    def row(self) -> int:
        return self.target.row

    @property
    def col(self) -> int:
        return self.target.col

    @property
    def input_rect(self) -> Rect:
        """The receptive field on the network's input (clipped to the image)."""
        return self.field.input_rect

    @property
    def kernel_cells(self) -> tuple[KernelCell, ...]:
        return self.field.kernel_cells
