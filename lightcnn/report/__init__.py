"""Reading a finished run and writing what people look at: the run report, comparisons,
filters and feature maps, and CIFAR-100's fine-to-coarse analysis."""
