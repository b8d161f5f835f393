"""`neovert` command line: the stages that make sense outside Snakemake, for humans and tests."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from neovert import __version__, log

DEFAULT_SECRETS = Path("~/.config/neovert")


def _synth(args: argparse.Namespace) -> None:
    from neovert.synth import generate_cohort

    generate_cohort(args.out, scale=args.scale, seed=args.seed, per_hospital=args.per_hospital, workers=args.workers)


def _synth_sheet(args: argparse.Namespace) -> None:
    from neovert.synth.contact_sheet import contact_sheet

    logging.info("contact sheet written to %s", contact_sheet(args.cohort, args.out))


def _keygen(args: argparse.Namespace) -> None:
    from neovert.pseudonym import create_key

    path = args.path.expanduser()
    if path.exists() and args.if_missing:
        return
    logging.info("pseudonymization key written to %s (owner-only); back it up", create_key(path))


def _deid(args: argparse.Namespace) -> None:
    from neovert.deid import deid_folder
    from neovert.pseudonym import load_key

    key = load_key(args.key, args.key_env)
    map_file = args.map or args.key.expanduser().parent / "maps" / f"{args.hospital}.tsv"
    deid_folder(args.input, args.out, key, args.clinical, map_file, args.hospital,
                annotations=args.annotations, workers=args.threads, annotation_format=args.annotation_format)


def _strip(args: argparse.Namespace) -> None:
    from neovert.strip import strip_hospital

    strip_hospital(args.input, args.out, workers=args.threads, compress=not args.uncompressed,
                   declared_spacing_mm=args.declared_spacing)


def _split(args: argparse.Namespace) -> None:
    from neovert import split

    manifest = split.load_manifests([args.manifest])
    fractions = dict(zip(split.SETS, args.fractions))
    previous = split.load_manifests([args.previous]) if args.previous else None
    split.split_cohort(manifest, fractions, args.seed, args.out, previous=previous)


def _evaluate(args: argparse.Namespace) -> None:
    from neovert import evaluate
    from neovert.io import read_tsv

    cases = read_tsv(args.cases) if args.cases else None
    per_image = evaluate.score_folder(args.pred, args.truth, cases, args.threads)
    raw = evaluate.score_folder(args.raw, args.truth, cases, args.threads) if args.raw else None
    evaluate.write_tables(per_image, args.out, {"code_version": __version__,
                                                "predictions_hash": evaluate.hash_folder(args.pred)},
                          raw=raw, penalised=args.penalised)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="neovert", description=__doc__)
    main.add_argument("--version", action="version", version=__version__)
    commands = main.add_subparsers(required=True, metavar="COMMAND")

    synth = commands.add_parser("synth", help="generate the synthetic multi-hospital demo cohort")
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument("--scale", type=float, default=0.01, help="share of the paper's 14,660 images (1.0 = all)")
    synth.add_argument("--seed", type=int, default=102)
    synth.add_argument("--per-hospital", type=int, default=None, help="images per hospital, overriding --scale")
    synth.add_argument("--workers", type=int, default=1)
    synth.set_defaults(run=_synth)

    sheet = commands.add_parser("synth-sheet", help="PNG of one synthetic image per hospital with its labels drawn")
    sheet.add_argument("--cohort", type=Path, required=True, help="output folder of `neovert synth`")
    sheet.add_argument("--out", type=Path, required=True, help="PNG to write")
    sheet.set_defaults(run=_synth_sheet)

    keygen = commands.add_parser("keygen", help="create the pseudonymization key (owner-only file)")
    keygen.add_argument("path", type=Path, nargs="?", default=DEFAULT_SECRETS / "pseudonym.key")
    keygen.add_argument("--if-missing", action="store_true", help="do nothing when the key exists")
    keygen.set_defaults(run=_keygen)

    deid = commands.add_parser("deid", help="de-identify a folder of DICOM files (any nesting, any names)")
    deid.add_argument("--in", dest="input", type=Path, required=True, help="folder of DICOM files")
    deid.add_argument("--out", type=Path, required=True)
    deid.add_argument("--clinical", type=Path, required=True,
                      help="CSV: patient_key,image_file (relative to --in),ga_weeks,bw_grams,sex,tube")
    deid.add_argument("--key", type=Path, default=DEFAULT_SECRETS / "pseudonym.key", help="key file (owner-only)")
    deid.add_argument("--key-env", metavar="VAR", help="environment variable holding the key in hex (wins if set)")
    deid.add_argument("--map", type=Path, help="site-private re-identification map (default: beside the key)")
    deid.add_argument("--hospital", default="H00", help="site code used in case ids")
    deid.add_argument("--annotations", type=Path, help="folder of LabelMe JSON named like the DICOM files, "
                      "or of COCO JSON / CVAT XML file(s) naming them")
    deid.add_argument("--annotation-format", choices=("labelme", "coco", "cvat"), default="labelme")
    deid.add_argument("--threads", type=int, default=1)
    deid.set_defaults(run=_deid)

    strip = commands.add_parser("strip", help="de-identified DICOM -> NIfTI holding only pixels and spacing")
    strip.add_argument("--in", dest="input", type=Path, required=True, help="output folder of `neovert deid`")
    strip.add_argument("--out", type=Path, required=True)
    strip.add_argument("--threads", type=int, default=1)
    strip.add_argument("--uncompressed", action="store_true", help="write .nii instead of .nii.gz")
    strip.add_argument("--declared-spacing", type=float, metavar="MM",
                       help="the site's pixel pitch in mm, used only for files that carry no spacing "
                            "(recorded as site_declared); without it such files are quarantined")
    strip.set_defaults(run=_strip)

    split = commands.add_parser("split", help="patient-level stratified split of a manifest TSV")
    split.add_argument("--manifest", type=Path, required=True,
                       help="TSV with case_id, patient_id, hospital, ga_group, bw_group (optional family_id, tube)")
    split.add_argument("--out", type=Path, required=True)
    split.add_argument("--seed", type=int, default=102)
    split.add_argument("--fractions", type=float, nargs=3, default=(11860, 1400, 1400), metavar=("TRAIN", "VAL", "TEST"))
    split.add_argument("--previous", type=Path,
                       help="an earlier split.tsv: its patients keep their sets, only new patients are assigned")
    split.set_defaults(run=_split)

    evaluate = commands.add_parser("evaluate", help="score two folders of label maps and write the tables")
    evaluate.add_argument("--pred", type=Path, required=True)
    evaluate.add_argument("--truth", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, required=True)
    evaluate.add_argument("--cases", type=Path,
                          help="TSV with case_id, patient_id, hospital, ga_group, bw_group (hard-film flags optional)")
    evaluate.add_argument("--raw", type=Path, help="the predictions before post-processing: adds postprocess_effect")
    evaluate.add_argument("--penalised", action="store_true",
                          help="also write *_penalised tables: a miss's HD95/MSD = the image diagonal in mm")
    evaluate.add_argument("--threads", type=int, default=1, help="processes scoring cases in parallel")
    evaluate.set_defaults(run=_evaluate)
    return main


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    log.setup()
    args.run(args)


if __name__ == "__main__":
    main()
