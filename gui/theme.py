"""A dark theme that sits next to a DAW: Fusion style, a charcoal palette, one accent colour."""

from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

ACCENT = "#e0913a"   # amber: selection, progress, the render button
DANGER = "#e05252"
OK = "#6cc36c"

STYLE = f"""
QWidget {{ font-size: 10pt; }}
QGroupBox {{ border: 1px solid #3a3d42; border-radius: 4px; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #b8bcc4; font-weight: 600; }}
QPushButton {{ padding: 4px 12px; border: 1px solid #4a4e55; border-radius: 3px; background: #34373c; }}
QPushButton:hover {{ background: #3e4248; }}
QPushButton:disabled {{ color: #6a6e75; }}
QPushButton#render {{ background: {ACCENT}; color: #1b1c1e; font-weight: 700; border: none; padding: 6px 18px; }}
QPushButton#render:hover {{ background: #eba457; }}
QLineEdit, QComboBox {{ padding: 3px 6px; border: 1px solid #4a4e55; border-radius: 3px;
    background: #1f2124; selection-background-color: {ACCENT}; selection-color: #1b1c1e; }}
QSpinBox, QDoubleSpinBox {{ min-height: 22px; }}
QTreeWidget, QListWidget {{ background: #1f2124; border: 1px solid #3a3d42; alternate-background-color: #24262a; }}
QTreeWidget::item {{ height: 24px; }}
QHeaderView::section {{ background: #2b2d31; color: #b8bcc4; border: none; border-right: 1px solid #3a3d42;
    padding: 4px 6px; }}
QProgressBar {{ border: 1px solid #4a4e55; border-radius: 3px; background: #1f2124; text-align: center;
    height: 14px; color: #e6e6e6; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 2px; }}
QStatusBar {{ background: #1b1c1e; color: #b8bcc4; }}
QLabel#crash {{ color: {DANGER}; font-weight: 600; }}
QLabel#engineOk {{ color: {OK}; }}
QToolButton {{ border: 1px solid #4a4e55; border-radius: 3px; padding: 3px 6px; background: #34373c; }}
QToolButton:checked {{ background: {ACCENT}; color: #1b1c1e; }}
"""


def apply(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2a2c30", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2124", QPalette.ColorRole.AlternateBase: "#24262a",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#34373c",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#1b1c1e", QPalette.ColorRole.ToolTipBase: "#1f2124",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#7d828a",
        QPalette.ColorRole.Link: ACCENT,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6a6e75"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6a6e75"))
    app.setPalette(pal)
    app.setStyleSheet(STYLE)
