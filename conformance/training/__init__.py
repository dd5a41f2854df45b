"""Training implementations side by side on real data, for the CLI's ``train``, bench/ and the
teaching notebook: the embedded and user-given datasets (datasets.py), the tasks (classification,
autoencoder, conv) and their networks (tasks.py), and the side-by-side trainer (side_by_side.py)."""
