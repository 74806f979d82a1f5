# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes in bytes."""

MiB = 1024 ** 2
GiB = 1024 ** 3

CHUNK = MiB                 # one read or write when a file is copied, streamed or hashed
PROGRESS_EVERY = 64 * MiB   # a long copy reports its progress this often
