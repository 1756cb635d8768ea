"""A dataset view holding only the arrays the training loops read."""


class ArrayNLI:
    def __init__(self, ds):
        self.all_token_ids, self.all_segments = ds.all_token_ids, ds.all_segments
        self.valid_lens, self.labels = ds.valid_lens, ds.labels

    def __len__(self):
        return len(self.labels)
