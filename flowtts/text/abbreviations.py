"""Abbreviations per language: how the normalizer expands them and whether the splitter may end a
sentence after their period.

Three kinds, because the period after an abbreviation means different things:

- ``title``: stands before a name ("Dr. Smith", "M. Dupont"): never ends a sentence; expanded only
  when a capitalized word follows. Some have an ``alt`` reading after a name ("Main St." -> Street).
- ``inline``: introduces more text ("e.g.", "vs.", "z. B.", "approx."): never ends a sentence.
- ``final``: may end a sentence ("etc.", "Inc.", "usw."): the splitter and the normalizer keep a
  sentence period after it when what follows looks like the start of a new sentence.

``DOTTED`` holds multi-part abbreviations written with inner periods ("e.g.", "z.B.", "p. ex.");
the normalizer replaces them before anything else touches their periods.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Abbreviation:
    """One single-word abbreviation, written without its period (``text``)."""

    text: str
    expansion: str
    kind: str  # "title" | "inline" | "final"
    alt: str = ""  # reading after a capitalized word or a number ("Main St." -> "Street")
    needs_period: bool = True  # False: also expanded when written without a period ("Mr Smith")


def _table(kind: str, pairs: str, needs_period: bool = True) -> list[Abbreviation]:
    """Parses "Dr=Doctor|Drive; Mr=Mister" into records (``|`` separates the ``alt`` reading)."""
    out = []
    for item in pairs.split(";"):
        key, _, value = item.strip().partition("=")
        expansion, _, alt = value.partition("|")
        out.append(Abbreviation(key, expansion, kind, alt, needs_period))
    return out


_SINGLE: dict[str, list[Abbreviation]] = {
    "en": _table(
        "title",
        "Mr=Mister; Mrs=Missus; Ms=Miz; Dr=Doctor|Drive; St=Saint|Street; Mt=Mount",
        needs_period=False,
    )
    + _table(
        "title",
        "Prof=Professor; Gen=General; Col=Colonel; Capt=Captain; Lt=Lieutenant; "
        "Sgt=Sergeant; Gov=Governor; Sen=Senator; Rep=Representative; Rev=Reverend; "
        "Hon=Honorable; Pres=President; Adm=Admiral; Maj=Major; Cmdr=Commander; Fr=Father; "
        "Messrs=Messieurs",
    )
    + _table(
        "inline",
        "vs=versus; approx=approximately; cf=compare; Fig=figure; fig=figure; "
        "Eq=equation; eq=equation; vol=volume; Vol=volume; pp=pages; ca=circa; dept=department; "
        "Dept=department; esp=especially; incl=including",
    )
    + _table("inline", "vs=versus", needs_period=False)
    + _table(
        "final",
        "etc=et cetera; Inc=Incorporated; Ltd=Limited; Corp=Corporation; Co=Company; "
        "Jr=Junior; Sr=Senior; Ave=Avenue; Blvd=Boulevard; Rd=Road; Hwy=Highway; Ln=Lane; "
        "misc=miscellaneous; Bros=Brothers",
    ),
    "fr": _table("title", "M=Monsieur; MM=Messieurs; Dr=Docteur; Pr=Professeur; Mgr=Monseigneur")
    + _table(
        "title", "Mme=Madame; Mmes=Mesdames; Mlle=Mademoiselle; Mlles=Mesdemoiselles", needs_period=False
    )
    + _table("inline", "cf=confer; env=environ; ex=exemple; p=page; av=avant; apr=après; vol=volume")
    + _table("final", "etc=et cetera; bd=boulevard; Cie=compagnie"),
    "de": _table("title", "Dr=Doktor; Prof=Professor; Hr=Herr; Hrn=Herrn; Fr=Frau; St=Sankt")
    + _table(
        "inline",
        "bzw=beziehungsweise; ca=circa; ggf=gegebenenfalls; evtl=eventuell; "
        "vgl=vergleiche; Nr=Nummer; S=Seite; inkl=inklusive; Bd=Band; Abs=Absatz",
    )
    + _table(
        "final", "usw=und so weiter; etc=et cetera; Str=Straße; Jh=Jahrhundert; Mio=Millionen; Mrd=Milliarden"
    ),
    "es": _table(
        "title",
        "Sr=señor; Sra=señora; Srta=señorita; Dr=doctor; Dra=doctora; D=don; "
        "Dña=doña; Prof=profesor; Lic=licenciado; Ing=ingeniero",
    )
    + _table(
        "inline",
        "aprox=aproximadamente; núm=número; pág=página; p=página; ej=ejemplo; "
        "Ud=usted; Uds=ustedes; vol=volumen",
    )
    + _table("final", "etc=etcétera; Av=avenida; Avda=avenida; Cía=compañía"),
    "it": _table(
        "title",
        "Sig=signor; Dott=dottor; Prof=professor; Ing=ingegner; Avv=avvocato; "
        "Sigg=signori; Geom=geometra; Dr=dottor",
    )
    + _table("inline", "es=esempio; pag=pagina; ca=circa; vol=volume")
    + _table("final", "ecc=eccetera; etc=eccetera"),
    "pt": _table(
        "title",
        "Sr=senhor; Sra=senhora; Srta=senhorita; Dr=doutor; Dra=doutora; "
        "Prof=professor; Profa=professora; Eng=engenheiro",
    )
    + _table("inline", "pág=página; p=página; ex=exemplo; aprox=aproximadamente; vol=volume")
    + _table("final", "etc=et cetera; Av=avenida; Lda=limitada"),
    "nl": _table(
        "title",
        "dhr=de heer; Dhr=de heer; mevr=mevrouw; Mevr=mevrouw; Dr=dokter; dr=dokter; "
        "prof=professor; Prof=professor; ir=ingenieur; Ir=ingenieur",
    )
    + _table("inline", "bijv=bijvoorbeeld; ca=circa; nr=nummer; Nr=nummer; blz=bladzijde; vgl=vergelijk")
    + _table("final", "enz=enzovoort; etc=et cetera"),
    "ar": [],
    "hi": [],
}

# Abbreviations with inner periods, as written (exact, case-sensitive) -> expansion.
DOTTED: dict[str, dict[str, str]] = {
    "en": {
        "e.g.": "for example",
        "i.e.": "that is",
        "a.k.a.": "also known as",
        "Ph.D.": "P H D",
        "et al.": "et al",
        "viz.": "namely",
        "E.g.": "For example",
        "I.e.": "That is",
    },
    "fr": {
        "p. ex.": "par exemple",
        "av. J.-C.": "avant Jésus-Christ",
        "apr. J.-C.": "après Jésus-Christ",
        "c.-à-d.": "c'est-à-dire",
        "c-à-d": "c'est-à-dire",
    },
    "de": {
        "z.B.": "zum Beispiel",
        "z. B.": "zum Beispiel",
        "d.h.": "das heißt",
        "d. h.": "das heißt",
        "u.a.": "unter anderem",
        "u. a.": "unter anderem",
        "u.s.w.": "und so weiter",
        "v. Chr.": "vor Christus",
        "n. Chr.": "nach Christus",
        "o.ä.": "oder ähnlich",
    },
    "es": {
        "p. ej.": "por ejemplo",
        "EE. UU.": "Estados Unidos",
        "EE.UU.": "Estados Unidos",
        "a. C.": "antes de Cristo",
        "d. C.": "después de Cristo",
    },
    "it": {"a.C.": "avanti Cristo", "d.C.": "dopo Cristo", "p.es.": "per esempio"},
    "pt": {"p. ex.": "por exemplo", "a.C.": "antes de Cristo", "d.C.": "depois de Cristo"},
    "nl": {
        "o.a.": "onder andere",
        "d.w.z.": "dat wil zeggen",
        "m.a.w.": "met andere woorden",
        "z.g.a.n.": "zo goed als nieuw",
        "v.Chr.": "voor Christus",
        "n.Chr.": "na Christus",
    },
    "ar": {},
    "hi": {},
}

# Abbreviations that stand before a number ("No. 5", "S. 12", "pp. 3-4"): no sentence ends there.
NUMBER_PREFIXES = frozenset(
    "no. nos. nr. n. p. pp. fig. vol. art. sec. ch. chap. s. núm. pág. pag. tel. ca. approx. bd. abs.".split()
)

# Words that typically open a sentence, used to decide whether "U.S. The" or "etc. We" ends one.
SENTENCE_STARTERS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "The A An I It He She We They You This That These Those There Then But And So In On At If When "
        "What Why How Who Where My Our Your His Her Its Their As After Before However Yes No Now Today "
        "Meanwhile Also For To Is Are Was Were Do Does Did Can Could Will Would Should Let Please Thanks "
        "Here One Some All Many Most Each Every Not Once Later Still Yet Although While Since Because".split()
    ),
    "fr": frozenset(
        "Le La Les Il Elle Nous Vous Ils Elles Je Ce Cette Ces Mais Et Un Une Des Dans En "
        "Pour Puis Alors On Si Quand Cependant Ensuite".split()
    ),
    "de": frozenset(
        "Der Die Das Ich Er Sie Es Wir Ihr Ein Eine Aber Und Dann Heute In Im Am Wenn Was "
        "Wie Dies Diese Dieser Man Doch Auch Jetzt Danach".split()
    ),
    "es": frozenset(
        "El La Los Las Un Una Yo Él Ella Nosotros Ellos Pero Y En Este Esta Luego Entonces Si "
        "Cuando Hoy Sin Además".split()
    ),
    "it": frozenset(
        "Il Lo La I Gli Le Un Una Io Lui Lei Noi Loro Ma E In Questo Questa Poi Allora Se "
        "Quando Oggi Inoltre".split()
    ),
    "pt": frozenset(
        "O A Os As Um Uma Eu Ele Ela Nós Eles Elas Mas E Em Este Esta Depois Então Se "
        "Quando Hoje Além".split()
    ),
    "nl": frozenset(
        "De Het Een Ik Hij Zij Ze We Wij Jij Maar En In Dit Deze Dan Toen Als Vandaag Ook Daarna".split()
    ),
    "ar": frozenset(),
    "hi": frozenset(),
}


def abbreviations(lang: str) -> list[Abbreviation]:
    """The single-word abbreviations of ``lang`` (empty for languages without any)."""
    return _SINGLE.get(lang, [])


# Dotted abbreviations that introduce more text, so a sentence never ends at their last period.
_DOTTED_INLINE = frozenset(
    [
        "e.g.",
        "i.e.",
        "E.g.",
        "I.e.",
        "viz.",
        "a.k.a.",
        "p. ex.",
        "c.-à-d.",
        "z.B.",
        "z. B.",
        "d.h.",
        "d. h.",
        "u.a.",
        "u. a.",
        "p. ej.",
        "p.es.",
        "o.a.",
        "d.w.z.",
        "m.a.w.",
    ]
)


def nonfinal_tokens(lang: str) -> frozenset[str]:
    """Lower-cased tokens (with their final period) after which a sentence never ends, for the splitter."""
    out = {
        a.text.lower() + "."
        for a in abbreviations(lang)
        if a.kind == "inline" or a.kind == "title" and not a.alt
    }
    for dotted in DOTTED.get(lang, {}):
        parts = dotted.split()
        out.update(p.lower() for p in parts[:-1])  # "p." of "p. ex.": more follows
        if dotted in _DOTTED_INLINE:
            out.add(parts[-1].lower())
    return frozenset(out)


def final_tokens(lang: str) -> frozenset[str]:
    """Lower-cased tokens (with their period) that may or may not end a sentence ("etc.", "usw.")."""
    # A title with an ``alt`` reading can end a sentence in that reading ("on Main St. Then ...").
    out = {a.text.lower() + "." for a in abbreviations(lang) if a.kind == "final" or a.alt}
    out.update(d.split()[-1].lower() for d in DOTTED.get(lang, {}) if d not in _DOTTED_INLINE)
    return frozenset(out)
