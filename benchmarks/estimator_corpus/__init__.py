"""The estimator benchmark's corpus: consumer scripts, their input generators and sizes."""
