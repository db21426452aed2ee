"""Voice adaptation: fine-tune a base model on a few minutes of one speaker into a voice pack.

    from flowtts.finetune import adapt
    result = adapt("recordings/", base="default", out="my-voice/")

``config.py`` the settings, ``data.py`` preparation and the held-out split, ``trainer.py`` the loop (early
stopping, resume), ``callbacks.py`` hooks for logging and custom losses, ``report.py`` the pack's REPORT.md,
``api.py`` ``adapt`` itself. The pack format is ``flowtts.adapters.pack``.
"""

from flowtts.finetune.api import FinetuneResult, adapt
from flowtts.finetune.callbacks import Callback
from flowtts.finetune.config import FinetuneConfig

__all__ = ["Callback", "FinetuneConfig", "FinetuneResult", "adapt"]
