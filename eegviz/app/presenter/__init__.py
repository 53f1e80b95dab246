"""`eegviz present`: a full-screen stimulus presenter that sends one LSL marker per image onset.

A lab needs two things to collect training data or run a live session: images on a screen at known times, and a
marker stream that says which image appeared when. This package does both so eegviz needs no other presentation
software. Each onset pushes the image id (the file stem) as a string sample on an LSL "Markers" outlet; eegviz's
Epocher cuts one epoch per marker and reads the payload as the image id, so only image ids are ever sent (no
"start"/"blank"/"end" markers that would become bogus epochs). A CSV log, if asked for, keeps the planned and the
actual onset of every trial, and a session file beside it the schedule's options, so that `--resume LOG` can show
the rest of an aborted run's schedule (and refuse another schedule).

Modules, each usable alone:
  schedule         ids -> Trial list (rapid or block design, repeats, shuffle, jittered blanks; seeded); no Qt
  widget           Presenter, the QWidget that runs a schedule and owns the marker outlet
  cli              run_presenter (images folder -> schedule -> Presenter) and `eegviz present`'s
                   add_arguments / main_from_args
  stimulus_folder  write_stimulus_folder: a demo folder rendered from the synthetic world, to try the whole loop
Image discovery (a folder, flat or one subfolder per class -> ImageFile list) is eegviz.data.images.find_images.

Timing (one LSL-clock anchor, spun onsets, the marker pushed after the frame) is explained in widget.
"""

# The one name kept here: tests/record imports it from this path, and it pulls in no Qt.
from eegviz.app.presenter.stimulus_folder import write_stimulus_folder  # noqa: F401
