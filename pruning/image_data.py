"""What the pipeline's Examples hold: images of one shape, and a number of classes; no TensorFlow.

TfdsExampleGen writes MNIST or Fashion-MNIST: 28x28 grayscale images (8-bit pixels) of 10
classes. Every model is built for, and fed, this shape and these classes (a model that takes the
same values in another layout, 28x28 against 28x28x1, is fed in its own).
"""

IMAGE_SHAPE = (28, 28, 1)  # height, width, channels
NUM_CLASSES = 10
PIXEL_RANGE = (0, 255)  # 8-bit
