"""The Layer settings panel (``QtLayerSettings``): the Layers tab edits each conv layer at once, the
Architecture tab (``QtArchitectureEditor``) edits the whole layer list as a draft applied in one step."""
from cnnstudio.qt.panels.layer_settings.architecture_editor import QtArchitectureEditor
from cnnstudio.qt.panels.layer_settings.conv_group import FIELDS, MAX_FILTERS, SAME_PADDING, ConvGroup
from cnnstudio.qt.panels.layer_settings.panel import QtLayerSettings
from cnnstudio.qt.panels.layer_settings.text import (image_mode_note, join_names, layer_name, merge_axis_warnings,
                                                    network_summary, split_reason_fix)

__all__ = ["FIELDS", "MAX_FILTERS", "SAME_PADDING", "ConvGroup", "QtArchitectureEditor", "QtLayerSettings",
           "image_mode_note", "join_names", "layer_name", "merge_axis_warnings", "network_summary",
           "split_reason_fix"]
