"""A hand-made set: five unrelated prompt/answer pairs, and the edits near-duplicates are made of."""

COFFEE = (
    "How long should coffee steep in a French press?",
    "Four minutes is the usual steeping time for a French press. Pour water just off the boil over coarsely "
    "ground beans, stir once so that every grain is wet, and put the lid on with the plunger raised. After four "
    "minutes press the plunger down slowly and steadily, then pour everything at once: coffee left on the grounds "
    "keeps extracting and turns bitter. A finer grind wants a shorter steep, a coarser one a little longer, and a "
    "ratio of one gram of coffee to fifteen of water is a good place to start adjusting from.",
)
BREAD = (
    "Why does my sourdough bread come out dense?",
    "A dense loaf nearly always means the dough was under-proofed or the starter was weak. Feed the starter until "
    "it reliably doubles within six hours, and use it at its peak rather than after it collapses. During bulk "
    "fermentation watch the dough instead of the clock: it should grow by about half, feel airy and show bubbles "
    "along the sides of the container. Shaping with good surface tension and baking in a preheated Dutch oven with "
    "the lid on for the first twenty minutes also gives the crumb room to open.",
)
ORBIT = (
    "Why doesn't the Moon fall into the Earth?",
    "The Moon is falling toward the Earth all the time; it simply moves sideways fast enough that the surface keeps "
    "curving away beneath it. Its orbital speed, roughly one kilometre per second, balances gravitational "
    "acceleration so that the path closes into an ellipse. Newton's cannonball thought experiment shows the same "
    "idea: fire a projectile faster and faster from a mountain top and at some speed it never lands. Tidal "
    "interaction is actually pushing the Moon slowly outward, by almost four centimetres each year.",
)
GIT = (
    "How do I undo the last commit in git without losing my changes?",
    "Run git reset --soft HEAD~1 to move the branch back by one commit while leaving your changes staged. If you "
    "also want them unstaged, use git reset HEAD~1, which is the mixed mode and the default. Both keep the working "
    "tree untouched. Should the commit already be pushed to a shared branch, prefer git revert, which records a new "
    "commit undoing the old one instead of rewriting history that collaborators may have pulled.",
)
PLANTS = (
    "What causes yellow leaves on tomato plants?",
    "Yellowing that starts on the lowest leaves and climbs upward usually points to nitrogen deficiency or to early "
    "blight, a fungal disease that also leaves brown rings. Overwatering suffocates roots and produces a similar "
    "pale colour across the whole plant. Check drainage first, remove affected foliage, mulch to stop soil "
    "splashing onto the stems, and feed with a balanced fertiliser. Magnesium shortage shows as yellow between green "
    "veins and is fixed with a dilute Epsom salt spray.",
)
UNRELATED = [COFFEE, BREAD, ORBIT, GIT, PLANTS]


def spaced(text):
    """Whitespace changes only."""
    return "  " + text.replace(". ", ".\n\n   ").replace(", ", " ,  ") + "\n"


def one_word_changed(text, old="usual", new="standard"):
    assert old in text
    return text.replace(old, new, 1)


def sentence_appended(text):
    return text + " Many people also warm the press with hot water first so the brew does not cool too quickly."
