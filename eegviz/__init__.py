"""eegviz: reconstruct what a person sees from their EEG, live (NeuroImagen as a streaming application).

The data path is one line: Source -> Epocher -> Decoder -> Generator -> Sinks (see eegviz.pipeline).
"""

__version__ = "0.1.0"
