"""The runtime networks of small models: components that :mod:`engine.loader` builds from a model
folder and the engine runs at render time, beside the diffusers / transformers parts.

* :mod:`engine.nets.clap_audio` - :class:`~engine.nets.clap_audio.SmallClapAudio`, a CNN CLAP audio
  branch on the model's own log-mel (``clap_audio/``; re-ranks candidates), and
  :class:`~engine.nets.clap_audio.TextToAudioPrior`, which maps CLAP text embeddings into the audio-
  embedding space the UNet was conditioned on (``clap_prior/``);
* :mod:`engine.nets.mel_inverter` - :class:`~engine.nets.mel_inverter.MelInverter`, the learned
  mel -> STFT magnitude step of :class:`engine.griffinlim.GriffinLimVocoder` (``mel_inverter/``).

The built-in default model (``engine/default_model/weights``) ships all three; they are trained by
:mod:`engine.default_model.train`. Nothing here imports the sampling loop, the corpus or the training
code: a component scores or maps embeddings that its caller computes.
"""
