"""Write src/oeseg/mapping/adjectives.txt from the system's WordNet 3.0 (Debian's wordnet-base and
wordnet-sense-index): `python tools/make_adjective_list.py`. tests/test_mapping.py checks that the
committed file is what this writes."""

from oeseg.io import atomic_write_text
from oeseg.lexicon.wordnet import adjective_words, open_wordnet
from oeseg.mapping.subject import ADJECTIVES_FILE, adjective_list_text

atomic_write_text(str(ADJECTIVES_FILE), adjective_list_text(adjective_words(open_wordnet())))
