"""What a generator's images are worth: a small CNN trained on real Fashion-MNIST that judges them (`judge`: fidelity
and diversity), pixel statistics and the Fréchet distance in the judge's features (`imagestats`), and the measures of
the mini generator at each guidance scale (`generator_quality`)."""
