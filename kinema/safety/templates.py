"""Templated training exemplars for the semantic classifier, to add to the hand-written ones.

Contract: `templated(category, n, seed)` returns `n` prompts of one class ("benign" or a harmful
category) composed from small vocabularies (who, does what, to whom, where), seeded and
deterministic. Hand-written exemplars teach the concepts; templates teach the classifier that the
same act is harmful whoever does it and wherever (and, for benign, that people walking, cooking
or playing and the world's shapes hitting each other are fine). None of these sentences is a
red-team prompt: `tests/safety/test_prompt.py` checks it.
"""

from __future__ import annotations

import random

PEOPLE = ["a man", "a woman", "a boy", "a girl", "an old man", "an old woman", "a teenager", "a young couple", "two friends",
          "a family", "a group of kids", "a soldier", "a police officer", "a nurse", "a farmer", "a student", "a chef", "a dancer"]
VICTIMS = ["a child", "a little boy", "an old woman", "a crowd of people", "his wife", "a homeless man", "students",
           "a police officer", "a dog", "a cat", "a prisoner", "a hostage", "a baby", "villagers", "a teenager",
           "people at a concert", "a horse", "shoppers", "a nurse", "worshippers", "a jogger", "passengers"]
ATTACKERS = ["a man", "a woman", "a gunman", "a soldier", "a gang", "a stranger", "the killer", "a masked man", "a teenager",
             "a mob", "police officers", "a terrorist", "a psychopath", "an attacker", "a drunk driver", "a cult leader"]
VIOLENT_ACTS = ["stabs {v} to death", "shoots {v} in the head", "opens fire on {v}", "beats {v} with a metal pipe",
                "strangles {v}", "sets {v} on fire", "runs over {v} on purpose", "cuts the throat of {v}",
                "drowns {v} in a lake", "throws {v} off a cliff", "tortures {v} in a basement", "slashes {v} with a knife",
                "executes {v}", "chops the hand off {v}", "smashes the skull of {v}", "bludgeons {v} with a hammer",
                "poisons {v}", "hangs {v} from a tree", "kicks {v} until blood pours out", "guns down {v}",
                "mows down {v} with a truck", "burns {v} alive", "sprays bullets at {v}", "blows up {v} with a bomb",
                "breaks the neck of {v}", "tears {v} limb from limb", "buries {v} alive", "stomps on {v}"]
VIOLENT_SCENES = ["", " in an alley", " at night", ", blood everywhere", " in slow motion", " while others watch",
                  " in a school", " on the street", " in a church", " at a market", ", bodies on the ground"]
SEX_PEOPLE = ["a woman", "a man", "a couple", "two women", "a young woman", "a young man", "a model", "a dancer", "two lovers",
              "an adult actress", "a housewife", "a nurse", "two men", "a stripper", "a blonde"]
SEX_ACTS = ["takes off all her clothes", "is completely naked", "having sex", "posing nude", "doing a striptease",
            "touching herself sexually", "showing their private parts", "undressing slowly for the camera",
            "in an explicit sex scene", "moaning in bed together", "with her top off", "in a steamy erotic scene",
            "having intercourse", "flashing her breasts", "in revealing lingerie in a sexual pose",
            "dancing on a pole and stripping", "rubbing against each other with no clothes", "in a porn video",
            "without any clothes on", "getting intimate and undressed", "in a see-through outfit showing everything"]
SEX_SETTINGS = ["", " in a bedroom", " in a hotel room", " on a beach", " in the shower", " on a webcam", " at a party",
                " for an adult video", " on a sofa", " in a car"]
GROUPS = ["jews", "muslims", "black people", "gay people", "immigrants", "mexicans", "asians", "arabs", "trans people",
          "disabled people", "women", "refugees", "roma", "christians", "hindus", "africans", "lesbians", "sikhs"]
HATE_TEMPLATES = ["{g} are subhuman and should be wiped out", "a poster saying {g} are vermin",
                  "a crowd chanting hateful slogans about {g}", "a cartoon drawing {g} as filthy animals",
                  "a video calling {g} a disease on society", "a rally demanding that all {g} be expelled",
                  "a meme saying {g} are dirty, stupid and lazy", "thugs beating up {g} while yelling slurs",
                  "a speech blaming {g} for every crime", "a sign saying {g} are not welcome and should die",
                  "a propaganda film showing {g} as rats", "people spitting on {g} in the street",
                  "a song about killing {g}", "a mob burning the homes of {g}", "a banner saying the world would be better without {g}"]
BULLIED = ["a disabled girl", "a fat kid", "a shy student", "a deaf man", "a blind woman", "a stuttering boy",
           "the new kid at school", "an autistic child", "a girl with acne", "an immigrant classmate"]
BULLYING = ["being mocked and shoved by classmates", "laughed at and humiliated by a group", "called names and pushed around",
            "getting cruel messages until she cries", "being tormented by bullies every day", "made fun of in front of everyone"]
ROLES = ["the founder of {c}", "the ceo of {c}", "the billionaire who owns {c}", "the boss of {c}"]
COMPANIES = ["amazon", "tesla", "microsoft", "apple", "facebook", "google", "spacex", "twitter", "nvidia", "openai", "meta"]
COUNTRIES = ["the united states", "russia", "china", "france", "germany", "the uk", "india", "brazil", "japan", "canada",
             "italy", "turkey", "israel", "ukraine", "north korea", "spain", "mexico", "australia"]
LEADERS = ["the president of {k}", "the prime minister of {k}", "the leader of {k}", "the king of {k}", "the head of state of {k}"]
PERSON_ACTIONS = ["laughing", "giving a speech", "dancing", "riding a bike", "shaking hands", "eating a burger",
                  "waving to a crowd", "playing golf", "on a yacht", "at a press conference", "singing karaoke", "crying"]
BENIGN_ACTS = ["walks a dog in the park", "cooks dinner in a small kitchen", "plays soccer on a field", "reads a book by a window",
               "rides a bike down a hill", "paints a fence", "waters the garden", "dances at a wedding", "swims in a lake",
               "laughs at a joke", "builds a sandcastle", "plays the guitar", "jogs along the river", "feeds the ducks",
               "carries groceries home", "flies a kite", "hugs a friend at the station", "takes a photo of the sunset",
               "chops vegetables for a salad", "throws a ball to a dog", "kicks a ball into a goal", "climbs a tree",
               "shoots hoops in the driveway", "films a video of the beach", "slices bread", "rows a boat", "skates on ice",
               "hits a tennis ball", "lights candles on a cake", "sleeps on the couch", "sweeps the floor"]
BENIGN_SETTINGS = ["", " on a sunny day", " in the rain", " at sunset", " in slow motion", ", close-up", ", wide shot",
                   " in winter", " in a small town", " at night under street lights"]
COLORS = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "white", "crimson", "scarlet", "golden",
          "emerald", "turquoise", "violet", "magenta", "ivory", "azure", "lime", "amber"]
SHAPES = ["circle", "ball", "disc", "dot", "square", "box", "block", "cube", "triangle", "wedge"]
SIZES = ["small", "medium", "large", "big", "tiny", ""]
MOTIONS = ["bounces to the right", "slides to the left", "falls and bounces to rest", "is thrown from left to right",
           "spins clockwise", "grows to twice its size", "shrinks", "enters from the left", "exits to the top",
           "leaves and comes back", "drifts up and to the right", "rests on the floor", "rolls down", "moves fast"]
FORCES = ["hits", "smashes into", "crashes into", "slams into", "knocks over", "pushes", "strikes", "bumps", "collides with",
          "rams", "shoves", "knocks out of the frame", "crushes", "flattens", "blasts", "kicks", "beats", "chases",
          "attacks", "destroys", "punches", "shoots past"]
ENDINGS = ["", " on a black background", " on a night background", " with a gray floor", " on a charcoal background",
           " on a forest background", ". The camera is still.", ". The camera pans left.", ", zoom in", ", close-up",
           " and explodes into confetti", " and shatters", " and dies down", " and it flies away", " then both stop"]


def world_captions(n: int, seed: int = 0) -> list[str]:
    """Captions of the world's scenes, with the forceful verbs people use for them."""
    rng = random.Random(seed)

    def thing() -> str:
        return " ".join(w for w in ["a", rng.choice(SIZES), rng.choice(COLORS), rng.choice(SHAPES)] if w)

    return [f"{thing()} {rng.choice(FORCES)} {thing()}{rng.choice(ENDINGS)}" if rng.random() < 0.45
            else f"{thing()} {rng.choice(MOTIONS)}{rng.choice(ENDINGS)}" for _ in range(n)]


def templated(category: str, n: int, seed: int = 0) -> list[str]:
    """`n` deterministic template prompts of `category` (see the module docstring)."""
    rng = random.Random(f"{category}-{seed}")
    c = rng.choice
    makers = {
        "violence": lambda: f"{c(ATTACKERS)} {c(VIOLENT_ACTS).format(v=c(VICTIMS))}{c(VIOLENT_SCENES)}",
        "sexual": lambda: f"{c(SEX_PEOPLE)} {c(SEX_ACTS)}{c(SEX_SETTINGS)}",
        "hate": lambda: (c(HATE_TEMPLATES).format(g=c(GROUPS)) if rng.random() < 0.75 else f"{c(BULLIED)} {c(BULLYING)}"),
        "real_person": lambda: (f"{c(ROLES).format(c=c(COMPANIES))} {c(PERSON_ACTIONS)}" if rng.random() < 0.4
                                else f"{c(LEADERS).format(k=c(COUNTRIES))} {c(PERSON_ACTIONS)}"),
        "benign": lambda: f"{c(PEOPLE)} {c(BENIGN_ACTS)}{c(BENIGN_SETTINGS)}",
    }
    if category not in makers:
        raise ValueError(f"no templates for {category!r}; use one of: {', '.join(makers)}")
    out = list(dict.fromkeys(makers[category]() for _ in range(4 * n)))
    return out[:n]


# --- second round: descriptions of famous people and characters, and the plain roles that are not
FAMOUS_DEEDS = ["won the world cup", "won an oscar", "won the ballon d'or", "won seven super bowls", "won twenty grand slams",
                "holds the 100 meter world record", "founded a famous electric car company", "bought the bird app",
                "invented the smartphone", "sang the biggest hit of the summer", "topped the charts for years",
                "hosts the famous late night show", "starred in the biggest blockbuster", "played the famous spy",
                "landed on the moon", "won the nobel peace prize", "leads the country", "runs the biggest tech company",
                "was the first woman in space", "won the presidential election", "became the richest person alive",
                "headlined the halftime show", "broke the home run record", "won the champions league five times",
                "wrote the famous fantasy books", "won eight gold medals in one olympics", "played the superhero in the movies"]
FAMOUS_WHO = ["the singer", "the pop star", "the rapper", "the footballer", "the soccer legend", "the basketball star",
              "the tennis champion", "the actor", "the actress", "the billionaire", "the politician", "the astronaut",
              "the tech mogul", "the quarterback", "the sprinter", "the swimmer", "the comedian", "the talk show host",
              "the boxer", "the golfer", "the movie star", "the supermodel", "the country singer", "the k-pop idol"]
NATIONS = ["american", "british", "french", "german", "russian", "chinese", "indian", "brazilian", "argentine",
           "portuguese", "spanish", "italian", "japanese", "korean", "canadian", "mexican", "australian", "swedish"]
FAMOUS_HINTS = ["famous", "world-famous", "legendary", "best-known", "record-breaking", "most famous", "iconic",
                "billionaire", "award-winning", "greatest ever", "most followed"]
CHARACTER_LOOKS = [
    "the cartoon mouse with round black ears, red shorts and white gloves", "the yellow sponge who lives in a pineapple under the sea",
    "the orange cartoon cat who loves lasagna and hates mondays", "the beagle who sleeps on the roof of his red doghouse",
    "the little green jedi master with pointy ears", "the golden droid who speaks six million languages",
    "the one-eyed yellow henchman in blue overalls", "the clownfish who got lost in the ocean", "the snowman who likes warm hugs",
    "the lion cub who grows up to be king of pride rock", "the mermaid princess who trades her voice for legs",
    "the rat who cooks in a paris restaurant", "the princess who turns into an ogre at night", "the wooden puppet whose nose grows",
    "the billionaire superhero in a red and gold metal suit", "the green giant who smashes when he is angry",
    "the hero with a shield painted with a star", "the caped hero from krypton", "the masked vigilante with a bat symbol on his chest",
    "the clown villain with green hair and a purple suit", "the boy who never grows up from neverland in the disney film",
    "the red-capped hero of the mushroom kingdom", "the green-clad elf hero with a master sword", "the pink puffball who inhales enemies",
    "the hedgehog mascot of the game company", "the pokemon with a flame on its tail", "the turtle pokemon that sprays water",
    "the sleeping giant pokemon blocking the road", "the yellow round ghost-eating arcade hero", "the blocky miner hero from the sandbox game",
    "the green creeper that explodes in the block game", "the space marine in green armor from the xbox game",
    "the archaeologist with a whip and a fedora from the movies", "the secret agent with a license to kill", "the time-travelling doctor in a blue police box",
    "the pirate captain with kohl-rimmed eyes from the disney films", "the wizard headmaster with a long silver beard from the school of magic",
    "the dark wizard with no nose", "the hobbit who carries the ring to the volcano", "the grey wizard who says you shall not pass",
    "the saiyan warrior with spiky golden hair", "the ninja boy with whisker marks and an orange jumpsuit", "the rubber pirate with a straw hat",
    "the cat-bus from the japanese animated film", "the big fluffy forest spirit from the ghibli movie", "the robot who cleans up an empty earth",
    "the cowboy sheriff doll with a pull string", "the toy astronaut who thinks he can fly", "the red race car who says ka-chow",
    "the dinosaur purple and friendly from the kids show", "the blue heeler puppy from the australian cartoon", "the pink cartoon pig who jumps in muddy puddles",
    "the rescue pups from the kids show", "the five yellow cartoon family members from springfield", "the mad scientist grandpa and his grandson from the adult cartoon",
    "the green-skinned witch from the musical", "the teenage turtles who love pizza and fight with ninja weapons", "the robots in disguise who turn into trucks",
    "the muppet frog who plays the banjo", "the blue cookie-loving muppet", "the grumpy green muppet who lives in a trash can",
    "the famous cola's red can with white script", "the sneakers with the famous swoosh", "the fast food chain's golden arches sign",
    "the coffee chain's green mermaid logo", "the bitten apple logo of the phone maker", "the three stripes of the german sportswear brand",
    "the prancing horse badge of the italian sports car maker", "the colonel's face on the fried chicken bucket", "the blue bird logo of the social network",
    "the monogram handbag of the french luxury house", "the interlocking c logo of the fashion house", "the red bull logo on an energy drink can",
]
CHARACTER_DOES = ["running through a field", "waving at the camera", "eating a sandwich", "dancing on a table", "flying over a city",
                  "sitting on a bench", "riding a bike", "fighting a robot", "in a spaceship", "at the beach", "in the rain", "jumping",
                  "on a billboard", "printed on a t-shirt", "as a big parade balloon", "in a new short film", "in a commercial",
                  "painted on a wall", "sleeping", "cooking dinner", ""]
PLAIN_ROLES = ["the lead singer of a local garage band", "the captain of the ship", "the president of the chess club",
               "the king on a chessboard", "a queen in a fairy tale", "the founder of a small bakery", "the owner of the corner shop",
               "a footballer", "a pop singer", "the coach of a kids soccer team", "a tennis player", "a movie actor in costume",
               "the host of a dinner party", "the leader of the scout troop", "the star of the school play", "a rapper in a studio",
               "a wizard in a pointed hat", "a cartoon cat", "a cartoon mouse", "a superhero made up by a child", "a plumber",
               "a drummer in a marching band", "the mayor of a tiny village in a story", "a robot toy", "a princess costume",
               "a knight with a sword", "a cowboy on a horse", "a dragon kite", "a teddy bear", "the class president",
               "a ballet dancer", "an astronaut in training", "a young wizard in a homemade costume", "a blue bird",
               "a golden retriever", "a black cat with green eyes"]


def described(category: str, n: int, seed: int = 0) -> list[str]:
    """`n` deterministic prompts that describe a famous person ("real_person"), a famous character
    or brand ("copyright") without naming them, or plain roles that point at nobody ("benign")."""
    rng = random.Random(f"described-{category}-{seed}")
    c = rng.choice

    def person() -> str:
        roll = rng.random()
        if roll < 0.5:
            return f"{c(FAMOUS_WHO)} who {c(FAMOUS_DEEDS)} {c(PERSON_ACTIONS)}"
        if roll < 0.8:
            return f"the {c(FAMOUS_HINTS)} {c(NATIONS)} {c(FAMOUS_WHO).removeprefix('the ')} {c(PERSON_ACTIONS)}"
        return f"{c(FAMOUS_WHO)} from the {c(FAMOUS_HINTS)} {c(['band', 'team', 'movie', 'show', 'franchise'])} {c(PERSON_ACTIONS)}"

    makers = {
        "real_person": person,
        "copyright": lambda: f"{c(CHARACTER_LOOKS)} {c(CHARACTER_DOES)}".strip(),
        "benign": lambda: f"{c(PLAIN_ROLES)} {c(PERSON_ACTIONS)}{c(BENIGN_SETTINGS)}",
    }
    if category not in makers:
        raise ValueError(f"no descriptions for {category!r}; use one of: {', '.join(makers)}")
    out = list(dict.fromkeys(makers[category]() for _ in range(4 * n)))
    return out[:n]
