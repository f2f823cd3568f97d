"""A small hand-written word-sense set: sentences using "cell", "mouse", "bank" and
"bucket" in two or three senses each (written for elmokit; public domain).

Used by ``elmokit evaluate`` (are same-sense occurrences closer than cross-sense ones?) and
the ``neighbors`` examples.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

SENSES: dict[str, dict[str, list[str]]] = {
    "cell": {
        "biology": [
            "The cell divides into two daughter cells after copying its DNA .",
            "Each red blood cell carries oxygen through the body .",
            "Under the microscope the cell membrane looked thin and fragile .",
            "A nerve cell sends signals along its long axon .",
        ],
        "prison": [
            "The prisoner was locked in his cell for the night .",
            "The guard opened the cell door and let the inmate out .",
            "He spent ten years in a small cell with one window .",
            "The monk prayed alone in his narrow cell .",
        ],
        "phone": [
            "Call me on my cell if the train is late .",
            "She lost her cell phone on the bus .",
            "My cell battery died before I could send the message .",
            "He gave me his cell number so I could text him .",
        ],
    },
    "mouse": {
        "animal": [
            "The cat chased a mouse across the kitchen floor .",
            "A small mouse nibbled the cheese in the pantry .",
            "The field mouse built a nest under the hay .",
            "We set a trap because a mouse was eating the grain .",
        ],
        "computer": [
            "Click the left mouse button to open the file .",
            "Move the mouse pointer over the icon and double-click .",
            "My wireless mouse needs new batteries .",
            "Drag the window with the mouse to resize it .",
        ],
    },
    "bank": {
        "money": [
            "She deposited the check at the bank on Monday .",
            "The bank raised its interest rates on loans .",
            "He withdrew cash from his bank account .",
            "The central bank printed more money .",
        ],
        "river": [
            "We sat on the grassy bank of the river and fished .",
            "The boat drifted toward the muddy bank .",
            "Willows grew along the bank of the stream .",
            "The flood washed away the east bank of the creek .",
        ],
    },
    "bucket": {
        "pail": [
            "She filled the bucket with water from the well .",
            "He carried a bucket of sand to the beach .",
            "The farmer poured milk from the bucket into the churn .",
            "Rain dripped from the roof into a plastic bucket .",
        ],
        "die": [
            "The old man finally kicked the bucket last winter .",
            "Everyone thought the villain would kick the bucket in the last scene .",
            "My grandfather joked that he was not ready to kick the bucket yet .",
            "The car was so old it was about to kick the bucket .",
        ],
    },
}


def sense_sentences(word: str | None = None) -> Iterator[tuple[str, str, str]]:
    """-> (word, sense, sentence) for one word or all of them."""
    for w, senses in SENSES.items():
        if word is None or w == word:
            for sense, sentences in senses.items():
                for s in sentences:
                    yield w, sense, s


def sense_triples(word: str) -> Iterator[tuple[int, int, int]]:
    """Index triples (anchor, same-sense, other-sense) into ``list(sense_sentences(word))``:
    every ordered same-sense pair combined with every other-sense sentence."""
    items = list(sense_sentences(word))
    for a, b in itertools.permutations(range(len(items)), 2):
        if items[a][1] != items[b][1]:
            continue
        for c in range(len(items)):
            if items[c][1] != items[a][1]:
                yield a, b, c
