"""Personal data in text: Presidio's pattern recognizers, plus names and places from a local NER model.

Nothing here downloads anything. Presidio's default engine fetches a spaCy model and its email
recognizer lets tldextract fetch the public suffix list on first use; both are replaced: the
default NLP engine is a blank spaCy pipeline (tokens only) and the email recognizer validates
domains against the suffix list snapshot bundled in tldextract's wheel. PERSON and LOCATION
need a real NER model, so they are found only where an operator points `ner_model_dir` at a
spaCy pipeline saved with `nlp.to_disk`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, Pattern, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpEngine, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language
from spacy.tokens import Doc

from auditing.detectors.pii_hit import PiiHit, mask
from auditing.detectors.pii_numbers import plausible

LANGUAGE = "en"
# Presidio gives weak pattern matches (a bare 9-digit number "might" be an SSN) 0.05–0.3 and a
# parsed phone number 0.4: below that a reviewer would mostly see noise.
MIN_SCORE = 0.35
PATTERN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "URL",
    "CRYPTO",
)
NER_ENTITIES = ("PERSON", "LOCATION")
# Phone numbers are parsed for these regions (besides numbers written with a +country code).
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "CA", "AU", "IN", "BR", "IL")
_LEMMA_COMPONENT = "cleanroom_lowercase_lemma"


class NerModelNotFound(FileNotFoundError):
    pass


@Language.component(_LEMMA_COMPONENT)
def _lowercase_lemma(doc: Doc) -> Doc:
    # Presidio raises a match's score when a context word ("email", "phone") is near it, and
    # compares lemmas: a pipeline without a lemmatizer would never match any.
    for token in doc:
        if not token.lemma_:
            token.lemma_ = token.lower_
    return doc


class _OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating the domain without touching the network."""

    def validate_result(self, pattern_text: str) -> bool:
        return has_public_suffix(pattern_text)


# tldextract's module-level extractor downloads the public suffix list on first use and caches
# it under $HOME; this one reads only the snapshot shipped in its wheel.
_extract_domain = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def has_public_suffix(address_or_domain: str) -> bool:
    """Whether the domain ends in a public suffix (".com", ".co.uk"): what makes an address one."""
    return _extract_domain(address_or_domain).fqdn != ""


# Presidio's card pattern knows first digits 1 and 3–6 only: Mastercard's 2221–2720 range
# (issued since 2017) was never found. Same weak score: the Luhn check makes a match certain.
MASTERCARD_2_SERIES = Pattern(
    "Mastercard 2-series (weak)", r"\b2(2[2-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b", 0.3
)


def _card_recognizer() -> CreditCardRecognizer:
    return CreditCardRecognizer(patterns=[*CreditCardRecognizer.PATTERNS, MASTERCARD_2_SERIES])


class _BlankSpacyNlpEngine(SpacyNlpEngine):
    """Tokens and lemmas from a blank spaCy pipeline: no model, no entities."""

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": LANGUAGE, "model_name": "blank"}])

    def load(self) -> None:
        nlp = spacy.blank(LANGUAGE)
        nlp.add_pipe(_LEMMA_COMPONENT)
        self.nlp = {LANGUAGE: nlp}


def _ner_nlp_engine(model_dir: Path) -> NlpEngine:
    # Presidio's loader downloads any model name that is not an existing path: check first,
    # so a typo in the operator's setting is an error here rather than a network request.
    if not (model_dir / "config.cfg").is_file():
        raise NerModelNotFound(f"no spaCy pipeline (config.cfg) in {model_dir}")
    engine = SpacyNlpEngine(
        models=[{"lang_code": LANGUAGE, "model_name": str(model_dir)}],
        ner_model_configuration=NerModelConfiguration(),
    )
    engine.load()
    nlp = engine.nlp[LANGUAGE]
    if "lemmatizer" not in nlp.pipe_names:
        nlp.add_pipe(_LEMMA_COMPONENT)
    return engine


def _pattern_recognizers() -> list[EntityRecognizer]:
    return [
        _OfflineEmailRecognizer(),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        _card_recognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        UrlRecognizer(),
        CryptoRecognizer(),
    ]


@lru_cache(maxsize=4)
def _analyzer(ner_model_dir: str | None) -> AnalyzerEngine:
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for recognizer in _pattern_recognizers():
        registry.add_recognizer(recognizer)
    if ner_model_dir is None:
        nlp_engine: NlpEngine = _BlankSpacyNlpEngine()
        nlp_engine.load()
    else:
        nlp_engine = _ner_nlp_engine(Path(ner_model_dir))
        registry.add_recognizer(SpacyRecognizer(supported_language=LANGUAGE, supported_entities=list(NER_ENTITIES)))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def text_analyzer(ner_model_dir: str | Path | None = None) -> AnalyzerEngine:
    """The shared analyzer (built once per process and model directory: loading takes ~1 s)."""
    return _analyzer(str(Path(ner_model_dir).resolve()) if ner_model_dir is not None else None)


def analyze_text(text: str, *, ner_model_dir: str | Path | None = None) -> list[RecognizerResult]:
    """Presidio results on `text`, less the numbers that are not what they parse as (see
    pii_numbers), overlaps resolved, in reading order."""
    if not text.strip():
        return []
    entities = list(PATTERN_ENTITIES) + (list(NER_ENTITIES) if ner_model_dir is not None else [])
    results = text_analyzer(ner_model_dir).analyze(text=text, language=LANGUAGE, entities=entities, score_threshold=MIN_SCORE)
    results = [r for r in results if plausible(r.entity_type, text, r.start, r.end, phone_regions=PHONE_REGIONS)]
    return sorted(_without_nested(results), key=lambda result: (result.start, result.end))


def find_pii_in_text(text: str, *, field: str, ner_model_dir: str | Path | None = None) -> list[PiiHit]:
    """Personal data in one piece of text; `field` says where the text came from."""
    return [
        PiiHit(
            entity_type=result.entity_type,
            start=result.start,
            end=result.end,
            score=round(float(result.score), 4),
            text=mask(result.entity_type, text[result.start : result.end]),
            field=field,
        )
        for result in analyze_text(text, ner_model_dir=ner_model_dir)
    ]


def _without_nested(results: list[RecognizerResult]) -> list[RecognizerResult]:
    # The URL recognizer also matches the domain of every email address, and a phone number
    # can contain something SSN-shaped: report only the outermost, most confident match.
    ordered = sorted(results, key=lambda r: (-(r.end - r.start), -r.score))
    kept: list[RecognizerResult] = []
    for result in ordered:
        if not any(k.start <= result.start and result.end <= k.end and k.score >= result.score for k in kept):
            kept.append(result)
    return kept
