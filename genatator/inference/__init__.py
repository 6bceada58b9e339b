"""Inference: plan windows, predict them on both strands, stitch a chromosome's per-base track."""

from genatator.inference.predictor import (
    PRECISIONS,
    Predictor,
    WindowPrediction,
    WindowPredictor,
    autocast_dtype,
    predict_tracks,
    resolve_device,
)
from genatator.inference.stitch import TrackBlock, TrackStitcher
from genatator.inference.windows import fit_window, plan_windows, window_weights

__all__ = [
    "PRECISIONS",
    "Predictor",
    "TrackBlock",
    "TrackStitcher",
    "WindowPrediction",
    "WindowPredictor",
    "autocast_dtype",
    "fit_window",
    "plan_windows",
    "predict_tracks",
    "resolve_device",
    "window_weights",
]
