"""Per-image rate control: each image gets the smallest file its network still reads the same.

A ladder of tables with one free scale (:mod:`.ladder`), a rule with one parameter that picks a
step per image from the network's per-image figure (:mod:`.rules`), the parameter calibrated on
some images to a dataset target (:mod:`.calibration`), then applied image by image to others
(:mod:`.folder`, ``qsearch compress --per-image``)."""
