"""Built-in public-domain messages for the demo and the tests."""

# Shakespeare, Sonnet 18 (public domain).
SONNET_18 = (
    "Shall I compare thee to a summer's day?\n"
    "Thou art more lovely and more temperate:\n"
    "Rough winds do shake the darling buds of May,\n"
    "And summer's lease hath all too short a date;\n"
    "Sometime too hot the eye of heaven shines,\n"
    "And often is his gold complexion dimm'd;\n"
    "And every fair from fair sometime declines,\n"
    "By chance or nature's changing course untrimm'd;\n"
    "But thy eternal summer shall not fade,\n"
    "Nor lose possession of that fair thou ow'st;\n"
    "Nor shall Death brag thou wander'st in his shade,\n"
    "When in eternal lines to time thou grow'st:\n"
    "So long as men can breathe or eyes can see,\n"
    "So long lives this, and this gives life to thee.\n"
)

# Milton, Paradise Lost, Book I, opening (public domain): three paragraphs.
PARADISE_LOST_OPENING = (
    "Of Man's first disobedience, and the fruit\n"
    "Of that forbidden tree whose mortal taste\n"
    "Brought death into the World, and all our woe,\n"
    "With loss of Eden, till one greater Man\n"
    "Restore us, and regain the blissful seat,\n"
    "Sing, Heavenly Muse, that, on the secret top\n"
    "Of Oreb, or of Sinai, didst inspire\n"
    "That shepherd who first taught the chosen seed\n"
    "In the beginning how the heavens and earth\n"
    "Rose out of Chaos.\n\n"
    "Or, if Sion hill\n"
    "Delight thee more, and Siloa's brook that flowed\n"
    "Fast by the oracle of God, I thence\n"
    "Invoke thy aid to my adventurous song,\n"
    "That with no middle flight intends to soar\n"
    "Above th' Aonian mount, while it pursues\n"
    "Things unattempted yet in prose or rhyme.\n\n"
    "And chiefly thou, O Spirit, that dost prefer\n"
    "Before all temples th' upright heart and pure,\n"
    "Instruct me, for thou know'st; thou from the first\n"
    "Wast present, and, with mighty wings outspread,\n"
    "Dove-like sat'st brooding on the vast Abyss,\n"
    "And mad'st it pregnant: what in me is dark\n"
    "Illumine, what is low raise and support;\n"
    "That, to the height of this great argument,\n"
    "I may assert Eternal Providence,\n"
    "And justify the ways of God to men.\n"
)

DEMO_MESSAGE = SONNET_18
