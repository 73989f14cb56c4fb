"""The PyQt6 workstation (``audioldm-bridge gui``; the ``gui`` extra).

The engine, the service and the DAW bridge know nothing of Qt; this room wraps them (Carla's
host / GUI split): ``service_qt`` turns the service's events into Qt signals, ``library`` and
``audition`` are Qt-free data and audio, ``main_window`` lays out the widgets, ``app`` starts it
all (attaching to the running service, or starting one), ``screenshots`` documents the window.
"""
