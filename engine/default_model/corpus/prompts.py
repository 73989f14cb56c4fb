"""Evaluation prompts with machine-checkable expectations: :func:`held_out_prompts`
(new sentences and combinations in the training vocabulary; the main set) and
:func:`unseen_vocabulary_prompts` (words no training caption uses), plus :data:`HELD_OUT_TERMS`.
"""

from __future__ import annotations

# Words and phrases that no training caption contains.  Every held-out
# prompt uses at least one, so none of them can be a training caption.
HELD_OUT_TERMS = (
    "deep", "piercing", "warm", "drone", "shrill", "gentle", "glassy", "humming", "whistle",
    "booming", "little", "tv", "wash", "waterfall", "solitary", "again and again", "tapering",
    "blooming", "roar", "climbing", "plunging", "blast", "sparkling", "murky", "sizzling",
    "lead", "frantic", "leisurely", "staccato", "blip", "lingering", "breathy", "crystal-clear",
    "thumping", "rainfall", "far away", "rolling", "sub-bass", "triad", "sad", "chiming", "bed",
)


def _prompt(text: str, family: str, pair: str | None = None, **expect) -> dict:
    item = {"prompt": text, "family": family, "expect": expect}
    if pair is not None:
        item["pair"] = pair
    return item


def unseen_vocabulary_prompts() -> list[dict]:
    """Evaluation prompts whose key words never occur in training captions (zero-shot vocabulary).

    A text encoder trained only on this corpus cannot know what "murky" or "frantic" mean; this set
    measures that gap honestly. :func:`held_out_prompts` is the main evaluation set.

    Fixed evaluation prompts with machine-checkable expectations.

    Each item is ``{"prompt": str, "family": str, "expect": dict}`` and
    optionally ``"pair": id`` (items sharing an id should be ordered by the
    attribute in ``expect``; see :data:`ORDERINGS`).  ``family`` names the
    closest training family, for per-family reporting.  Expectation keys are
    those of :func:`check_expectations` ("f0_hz", "noise_colour", "rhythm",
    "envelope", "sweep", "texture", "length", "chord" + "root") plus the
    relative ones ("pitch", "brightness", "tempo").
    """
    return [
        # absolute pitch
        _prompt("a deep sine hum at 110 Hz", "sine_tone", f0_hz=110.0, texture="tonal"),
        _prompt("a piercing sine tone at 2 kHz", "sine_tone", f0_hz=2000.0),
        _prompt("a warm square wave tuned to A3", "square_tone", f0_hz=220.0),
        _prompt("a buzzy sawtooth drone on E2", "saw_tone", f0_hz=82.41),
        _prompt("a shrill beep at 1.5 kHz", "beep", f0_hz=1500.0),
        _prompt("a gentle string pluck on D4", "pluck", f0_hz=293.66),
        _prompt("a glassy bell chiming on C6", "bell", f0_hz=1046.5),
        _prompt("a 60 Hz electrical buzz humming steadily", "mains_hum", f0_hz=60.0),
        _prompt("a sub-bass sine at 55 Hz", "sine_tone", f0_hz=55.0),
        _prompt("a staccato blip at 880 Hz", "beep", f0_hz=880.0, length="short"),
        # low vs high
        _prompt("a deep sine drone", "sine_tone", pitch="low", pair="pitch-sine"),
        _prompt("a shrill sine whistle", "sine_tone", pitch="high", pair="pitch-sine"),
        _prompt("a deep booming tom", "tom", pitch="low", pair="pitch-tom"),
        _prompt("a little high tom with a shrill ring", "tom", pitch="high", pair="pitch-tom"),
        # noise colour
        _prompt("a flat hiss of white noise, like TV static", "white_noise", noise_colour="white",
                pair="noise-colour"),
        _prompt("a gentle pink noise wash", "pink_noise", noise_colour="pink", pair="noise-colour"),
        _prompt("brownian noise like a waterfall far away", "brown_noise", noise_colour="brown",
                pair="noise-colour"),
        # single vs repeated
        _prompt("a solitary snare hit", "snare", rhythm="single", pair="rhythm-snare"),
        _prompt("a snare hit again and again", "snare", rhythm="repeated", pair="rhythm-snare"),
        _prompt("a solitary hand clap", "clap", rhythm="single", pair="rhythm-clap"),
        _prompt("claps again and again", "clap", rhythm="repeated", pair="rhythm-clap"),
        # fading vs swelling
        _prompt("a pad tapering into silence", "pad", envelope="fading", pair="envelope-pad"),
        _prompt("a pad blooming out of silence", "pad", envelope="swelling", pair="envelope-pad"),
        _prompt("pink noise tapering off", "pink_noise", envelope="fading", noise_colour="pink",
                pair="envelope-noise"),
        _prompt("white noise blooming into a roar", "white_noise", envelope="swelling", noise_colour="white",
                pair="envelope-noise"),
        # rising vs falling
        _prompt("a tone climbing steadily in pitch", "rising_sweep", sweep="rising", pair="sweep-tone"),
        _prompt("a tone plunging in pitch", "falling_sweep", sweep="falling", pair="sweep-tone"),
        _prompt("a laser blast plunging in pitch", "laser_zap", sweep="falling"),
        # bright vs dark
        _prompt("a glassy, sparkling hi-hat", "closed_hihat", brightness="bright", pair="brightness-hat"),
        _prompt("a murky hi-hat", "closed_hihat", brightness="dark", pair="brightness-hat"),
        _prompt("a sawtooth lead with a sizzling top end", "saw_tone", brightness="bright",
                pair="brightness-saw"),
        _prompt("a murky sawtooth lead", "saw_tone", brightness="dark", pair="brightness-saw"),
        # fast vs slow
        _prompt("frantic alarm beeps", "alarm", tempo="fast", rhythm="repeated", pair="tempo-alarm"),
        _prompt("leisurely alarm beeps", "alarm", tempo="slow", rhythm="repeated", pair="tempo-alarm"),
        _prompt("a frantic thumping heartbeat", "heartbeat", tempo="fast", pair="tempo-heart"),
        _prompt("a leisurely thumping heartbeat", "heartbeat", tempo="slow", pair="tempo-heart"),
        # short vs long
        _prompt("a staccato bell", "bell", length="short", pair="length-bell"),
        _prompt("a lingering bell", "bell", length="long", pair="length-bell"),
        # tonal vs noisy
        _prompt("a breathy burst of noise", "white_noise", texture="noisy", pair="texture"),
        _prompt("a crystal-clear sine", "sine_tone", texture="tonal", pair="texture"),
        # chords
        _prompt("a major triad pad in C", "pad", chord="major", root="C"),
        _prompt("a sad minor triad in A", "pad", chord="minor", root="A"),
        # mixes
        _prompt("a kick drum thumping under steady rainfall", "kick", rhythm="repeated"),
        _prompt("rolling thunder far away", "thunder", texture="noisy", envelope="fading"),
        _prompt("a drone of brown noise as a sleep bed", "brown_noise", noise_colour="brown"),
    ]


def held_out_prompts() -> list[dict]:
    """The main evaluation set: new sentences and combinations in the training vocabulary.

    No prompt here is a caption the generator produces (checked over tens of thousands of
    seeds by the tests), but every word is one the training captions use, so a text encoder
    trained on this corpus alone can understand it. Same item format as
    :func:`unseen_vocabulary_prompts`.
    """
    return [
        # absolute pitch
        {"prompt": "a steady sine tone at 110 Hz held for a long time", "family": "sine_tone",
         "expect": {"f0_hz": 110.0, "texture": "tonal"}},
        {"prompt": "a quiet sine tone at 2 kHz", "family": "sine_tone", "expect": {"f0_hz": 2000.0}},
        {"prompt": "a square wave tone tuned to A3, held for a long time", "family": "square_tone",
         "expect": {"f0_hz": 220.0}},
        {"prompt": "a sawtooth synth note tuned to E2", "family": "saw_tone", "expect": {"f0_hz": 82.41}},
        {"prompt": "a high-pitched beep at 1.5 kHz played once", "family": "beep", "expect": {"f0_hz": 1500.0}},
        {"prompt": "a plucked string note tuned to D4", "family": "pluck", "expect": {"f0_hz": 293.66}},
        {"prompt": "a metallic bell tuned to C6", "family": "bell", "expect": {"f0_hz": 1046.5}},
        {"prompt": "a constant electrical hum at 60 Hz held for a long time", "family": "mains_hum", "expect": {"f0_hz": 60.0}},
        {"prompt": "a pure low sine tone at 55 Hz", "family": "sine_tone", "expect": {"f0_hz": 55.0}},
        {"prompt": "a short beep at 880 Hz", "family": "beep", "expect": {"f0_hz": 880.0, "length": "short"}},
        # low vs high
        {"prompt": "a low-pitched sine tone held steadily", "family": "sine_tone", "expect": {"pitch": "low"},
         "pair": "pitch-sine"},
        {"prompt": "a high-pitched sine tone held steadily", "family": "sine_tone", "expect": {"pitch": "high"},
         "pair": "pitch-sine"},
        {"prompt": "a low tom hit once", "family": "tom", "expect": {"pitch": "low"}, "pair": "pitch-tom"},
        {"prompt": "a high tom hit once", "family": "tom", "expect": {"pitch": "high"}, "pair": "pitch-tom"},
        # noise colour
        {"prompt": "constant white noise static", "family": "white_noise", "expect": {"noise_colour": "white"},
         "pair": "noise-colour"},
        {"prompt": "constant pink noise hiss", "family": "pink_noise", "expect": {"noise_colour": "pink"},
         "pair": "noise-colour"},
        {"prompt": "constant brownian noise", "family": "brown_noise", "expect": {"noise_colour": "brown"},
         "pair": "noise-colour"},
        # single vs repeated
        {"prompt": "an isolated snare hit played once", "family": "snare", "expect": {"rhythm": "single"}, "pair": "rhythm-snare"},
        {"prompt": "snare hits repeating in a steady rhythm", "family": "snare", "expect": {"rhythm": "repeated"},
         "pair": "rhythm-snare"},
        {"prompt": "a single handclap, just once", "family": "clap", "expect": {"rhythm": "single"},
         "pair": "rhythm-clap"},
        {"prompt": "handclaps repeating many times", "family": "clap", "expect": {"rhythm": "repeated"},
         "pair": "rhythm-clap"},
        # fading vs swelling
        {"prompt": "a minor pad that slowly fades out", "family": "pad", "expect": {"envelope": "fading"},
         "pair": "envelope-pad"},
        {"prompt": "a minor pad that slowly swells in", "family": "pad", "expect": {"envelope": "swelling"},
         "pair": "envelope-pad"},
        {"prompt": "pink noise fading out slowly", "family": "pink_noise",
         "expect": {"envelope": "fading", "noise_colour": "pink"}, "pair": "envelope-noise"},
        {"prompt": "white noise swelling up slowly", "family": "white_noise",
         "expect": {"envelope": "swelling", "noise_colour": "white"}, "pair": "envelope-noise"},
        # rising vs falling
        {"prompt": "a sine sweep going upward in pitch", "family": "rising_sweep", "expect": {"sweep": "rising"},
         "pair": "sweep-tone"},
        {"prompt": "a sine sweep going downward in pitch", "family": "falling_sweep", "expect": {"sweep": "falling"},
         "pair": "sweep-tone"},
        {"prompt": "a sci-fi laser zap falling in pitch", "family": "laser_zap", "expect": {"sweep": "falling"}},
        # bright vs dark
        {"prompt": "a crisp open hihat, bright with lots of high end", "family": "open_hihat",
         "expect": {"brightness": "bright"}, "pair": "brightness-hat"},
        {"prompt": "a dull muffled open hihat", "family": "open_hihat", "expect": {"brightness": "dark"},
         "pair": "brightness-hat"},
        {"prompt": "a bright sawtooth synth with lots of high end", "family": "saw_tone",
         "expect": {"brightness": "bright"}, "pair": "brightness-saw"},
        {"prompt": "a dark low-passed sawtooth synth", "family": "saw_tone", "expect": {"brightness": "dark"},
         "pair": "brightness-saw"},
        # fast vs slow
        {"prompt": "a warning alarm beeping quickly", "family": "alarm",
         "expect": {"tempo": "fast", "rhythm": "repeated"}, "pair": "tempo-alarm"},
        {"prompt": "a warning alarm beeping slowly", "family": "alarm",
         "expect": {"tempo": "slow", "rhythm": "repeated"}, "pair": "tempo-alarm"},
        {"prompt": "a fast heartbeat beating quickly", "family": "heartbeat", "expect": {"tempo": "fast"}, "pair": "tempo-heart"},
        {"prompt": "a slow heartbeat beating slowly", "family": "heartbeat", "expect": {"tempo": "slow"}, "pair": "tempo-heart"},
        # short vs long
        {"prompt": "a bell strike with a short decay", "family": "bell", "expect": {"length": "short"},
         "pair": "length-bell"},
        {"prompt": "a bell strike with a long decay", "family": "bell", "expect": {"length": "long"},
         "pair": "length-bell"},
        # tonal vs noisy
        {"prompt": "a short white noise hiss", "family": "white_noise", "expect": {"texture": "noisy"},
         "pair": "texture"},
        {"prompt": "a clean pure sine tone", "family": "sine_tone", "expect": {"texture": "tonal"}, "pair": "texture"},
        # chords
        {"prompt": "a pad playing a C major chord", "family": "chord", "expect": {"chord": "major", "root": "C"}},
        {"prompt": "a pad playing an A minor chord", "family": "chord", "expect": {"chord": "minor", "root": "A"}},
        # mixes and textures
        {"prompt": "kick drums in a steady rhythm with rain in the background", "family": "kick",
         "expect": {"rhythm": "repeated"}},
        {"prompt": "distant thunder rumble", "family": "thunder", "expect": {"texture": "noisy"}},
        {"prompt": "steady brown noise at a constant volume", "family": "brown_noise",
         "expect": {"noise_colour": "brown"}},
    ]


def unseen_wording_prompts() -> list[dict]:
    """Prompts in a user's own words (issue 20, item 4): sentence shapes no caption template has,
    numbers written as words, everyday words for the attributes. Written before the caption
    augmentation (:mod:`.augment`) was trained and not taken from it; some words will be among
    WordNet's synonyms of training words (that is how the model is meant to reach them), others not.
    Same item format as :func:`unseen_vocabulary_prompts`."""
    return [
        # absolute pitch, in words and in note names
        _prompt("give me a sine wave at four hundred and forty hertz", "sine_tone", f0_hz=440.0),
        _prompt("test tone: sine, 1000 Hz", "sine_tone", f0_hz=1000.0),
        _prompt("I want a beep of one kilohertz", "beep", f0_hz=1000.0),
        _prompt("electric hum, fifty hertz", "mains_hum", f0_hz=50.0),
        _prompt("somebody plucking a string, the note G3", "pluck", f0_hz=196.0),
        _prompt("a bell ringing an E4", "bell", f0_hz=329.63),
        _prompt("sawtooth bass on A1", "saw_tone", f0_hz=55.0),
        _prompt("square wave synth, note C5", "square_tone", f0_hz=523.25),
        # low vs high
        _prompt("a sine wave, really low", "sine_tone", pitch="low", pair="w-pitch-sine"),
        _prompt("a sine wave, really high", "sine_tone", pitch="high", pair="w-pitch-sine"),
        _prompt("a tom drum with a deep bass sound", "tom", pitch="low", pair="w-pitch-tom"),
        _prompt("a tom drum tuned up high", "tom", pitch="high", pair="w-pitch-tom"),
        # noise colour
        _prompt("the white noise of a detuned radio", "white_noise", noise_colour="white", pair="w-colour"),
        _prompt("pink noise for testing speakers", "pink_noise", noise_colour="pink", pair="w-colour"),
        _prompt("brown noise like a far off rumbling", "brown_noise", noise_colour="brown", pair="w-colour"),
        # single vs repeated
        _prompt("one snare drum hit, nothing else", "snare", rhythm="single", pair="w-rhythm-snare"),
        _prompt("a bunch of snare hits one after another", "snare", rhythm="repeated", pair="w-rhythm-snare"),
        _prompt("one clap of the hands", "clap", rhythm="single", pair="w-rhythm-clap"),
        _prompt("people clapping repeatedly", "clap", rhythm="repeated", pair="w-rhythm-clap"),
        # fading vs swelling
        _prompt("a synth pad that dies out bit by bit", "pad", envelope="fading", pair="w-envelope-pad"),
        _prompt("a synth pad that starts silent and gets louder", "pad", envelope="swelling", pair="w-envelope-pad"),
        _prompt("noise that gradually disappears", "white_noise", envelope="fading", pair="w-envelope-noise"),
        _prompt("noise that gradually gets stronger", "white_noise", envelope="swelling", pair="w-envelope-noise"),
        # rising vs falling
        _prompt("a tone that goes up and up", "rising_sweep", sweep="rising", pair="w-sweep"),
        _prompt("a tone that drops lower and lower", "falling_sweep", sweep="falling", pair="w-sweep"),
        _prompt("a ray gun zap that drops", "laser_zap", sweep="falling"),
        # bright vs dark
        _prompt("a hi hat with loads of sizzle and air", "closed_hihat", brightness="bright", pair="w-bright-hat"),
        _prompt("a hi hat that sounds dull and dark", "closed_hihat", brightness="dark", pair="w-bright-hat"),
        _prompt("a sawtooth with the treble turned up", "saw_tone", brightness="bright", pair="w-bright-saw"),
        _prompt("a sawtooth with the treble cut", "saw_tone", brightness="dark", pair="w-bright-saw"),
        # fast vs slow
        _prompt("an alarm that beeps rapidly", "alarm", tempo="fast", rhythm="repeated", pair="w-tempo-alarm"),
        _prompt("an alarm that beeps every now and then, unhurried", "alarm", tempo="slow", rhythm="repeated",
                pair="w-tempo-alarm"),
        _prompt("a racing heartbeat", "heartbeat", tempo="fast", pair="w-tempo-heart"),
        _prompt("a resting heartbeat, calm and slow", "heartbeat", tempo="slow", pair="w-tempo-heart"),
        # short vs long
        _prompt("a bell that stops almost immediately", "bell", length="short", pair="w-length-bell"),
        _prompt("a bell that keeps on ringing", "bell", length="long", pair="w-length-bell"),
        # tonal vs noisy
        _prompt("a burst of hissing", "white_noise", texture="noisy", pair="w-texture"),
        _prompt("a perfectly clean tone", "sine_tone", texture="tonal", pair="w-texture"),
        # chords
        _prompt("C major chord played on a pad", "pad", chord="major", root="C"),
        _prompt("a pad holding an A minor chord", "pad", chord="minor", root="A"),
        # mixes
        _prompt("a kick drum beat while it rains", "kick", rhythm="repeated"),
    ]
