"""The 11 hospital vendor profiles: what each site's detector and PACS put in the file.

The pipeline must cope with a mix of IODs (CR/DX), photometric interpretations, stored bit
depths, pixel spacings and private blocks, so every hospital gets a fixed profile modelled on
the notes' vendor table (synthetic-cohort.md 4.5; [V] values there are from real headers, the
rest are plausible guesses). Some sites send only Imager Pixel Spacing (detector plane, no
calibrated Pixel Spacing), two write Korean names under a Korean character set (the real
INFINITT export's ISO 2022 IR 149, and UTF-8), and three compress losslessly (JPEG lossless,
JPEG 2000, RLE) so the decoders are exercised. H11's old Fuji CR reader writes no spacing at
all, as such readers did: the strip stage quarantines those files unless the site declared its
reader's pitch (config strip.declared_spacing_mm, which the demo sets). Institution names,
addresses and station names are invented and distinctive so that a byte scan for them after
de-identification cannot hit by chance.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLosslessSV1, RLELossless


@dataclasses.dataclass(frozen=True)
class PrivateBlock:
    """One private creator block: a vendor-looking value and one value that carries PHI."""

    group: int
    creator: str
    info_offset: int
    info_vr: str
    info_value: str
    phi_offset: int  # LO element that holds the patient's name and MRN, as some PACS do


@dataclasses.dataclass(frozen=True)
class VendorProfile:
    hospital: str
    modality: Literal["CR", "DX"]
    photometric: Literal["MONOCHROME1", "MONOCHROME2"]
    spacings_mm: tuple[float, ...]  # first is the usual one; later ones are alternatives
    bits_stored: int
    manufacturer: str
    model: str
    software: str
    detector_type: str  # DX Detector module (DIRECT / SCINTILLATOR / STORAGE)
    blur_px: tuple[float, float]  # presampling MTF as a Gaussian sigma range, in pixels
    kvp: tuple[int, int]
    private: PrivateBlock
    institution: str
    address: str
    station: str
    charset: str | tuple[str, ...] = "ISO_IR 100"  # a Korean set adds the Hangul name to PatientName
    pixel_spacing: bool = True  # False: Imager Pixel Spacing only (the detector plane)
    imager_spacing: bool = True  # False (with pixel_spacing False): no spacing at all (CR only)
    transfer_syntax: str = ExplicitVRLittleEndian

    @property
    def korean(self) -> bool:
        return self.charset in (("", "ISO 2022 IR 149"), "ISO_IR 192")


PROFILES: tuple[VendorProfile, ...] = (
    VendorProfile(
        "H01", "CR", "MONOCHROME2", (0.139,), 15, "CARESTREAM HEALTH", "DRX-Revolution",
        "5.7.412.15", "SCINTILLATOR", (0.5, 0.7), (56, 64),
        PrivateBlock(0x0009, "GEIIS", 0x12, "IS", "1", 0x30),
        "Gaonbit Jangmi University Hospital", "17 Saessak-ro, Dalmaru-gu, Seoul", "NICUDRX01",
    ),
    VendorProfile(
        "H02", "DX", "MONOCHROME2", (0.1988,), 14, "GE Healthcare", "Optima XR220amx",
        "DM_Platform_Release_Version 4.0", "SCINTILLATOR", (0.5, 0.8), (55, 63),
        PrivateBlock(0x0011, "GEMS_GDXE_FALCON_04", 0x06, "DS", "0.0215", 0x30),
        "Haneulsori Medical Center", "205 Byeolbit-daero, Sorae-gu, Incheon", "AMXNICU2",
        pixel_spacing=False,
    ),
    VendorProfile(
        "H03", "DX", "MONOCHROME2", (0.150,), 12, "FUJIFILM Corporation", "FDR D-EVO II",
        "V10.2", "SCINTILLATOR", (0.6, 0.9), (55, 65),
        PrivateBlock(0x0009, "FDMS 1.0", 0x04, "SH", "NICU-ICU", 0x30),
        "Dasomnuri Childrens Hospital", "88 Muji-gil, Hwarang-gu, Daegu", "FDRNICU03",
        transfer_syntax=JPEG2000Lossless,
    ),
    VendorProfile(
        "H04", "DX", "MONOCHROME2", (0.140,), 12, "Agfa", "DXD60_1000G",
        "2303.4.60", "SCINTILLATOR", (0.5, 0.8), (57, 65),
        PrivateBlock(0x0019, "Agfa ADC NX", 0xF6, "DS", "200", 0x30),
        "Yeoulmaru University Hospital", "3 Cheongsa-ro, Eunbit-gu, Daejeon", "DXD60NICU",
    ),
    VendorProfile(
        "H05", "CR", "MONOCHROME1", (0.150, 0.100), 12, "Agfa-Gevaert AG", "ADC_5156",
        "VIPS 3.1", "STORAGE", (0.8, 1.2), (55, 62),
        PrivateBlock(0x0019, "AGFA", 0x10, "ST", "ADC5156 MUSICA2 CHEST NEONATAL", 0x30),
        "Saeromsol National University Hospital", "41 Ddukseom-ro, Namsol-gu, Gwangju", "ADCNICU05",
        charset=("", "ISO 2022 IR 149"), pixel_spacing=False,
    ),
    VendorProfile(
        "H06", "DX", "MONOCHROME1", (0.148,), 14, "Philips Medical Systems", "MobileDiagnost wDR",
        "2.1.3", "SCINTILLATOR", (0.6, 0.9), (58, 66),
        PrivateBlock(0x2001, "Philips Imaging DD 001", 0x06, "CS", "NO", 0x30),
        "Bitnarae Womens and Childrens Hospital", "9 Pungnyeon-ro, Seomgang-gu, Busan", "MDWDRNICU",
    ),
    VendorProfile(
        "H07", "DX", "MONOCHROME2", (0.140,), 14, "Samsung Electronics", "GM85",
        "1.10.0", "SCINTILLATOR", (0.5, 0.7), (55, 62),
        PrivateBlock(0x0029, "SEC_GM85_PACS", 0x10, "CS", "NICU", 0x30),
        "Areumdol Medical University Hospital", "122 Gyeore-ro, Haenim-gu, Ulsan", "GM85NICU07",
        charset="ISO_IR 192",
    ),
    VendorProfile(
        "H08", "DX", "MONOCHROME2", (0.144,), 12, "SIEMENS", "Mobilett Mira Max",
        "VF10B", "SCINTILLATOR", (0.5, 0.8), (57, 66),
        PrivateBlock(0x0019, "Siemens: Thorax/Multix FD Lab Settings", 0x02, "LO", "0.19", 0x30),
        "Hanbyeolgil University Hospital", "60 Narae-ro, Dongbaek-gu, Suwon", "MIRANICU08",
        transfer_syntax=JPEGLosslessSV1,
    ),
    VendorProfile(
        "H09", "DX", "MONOCHROME2", (0.125,), 12, "Canon Inc.", "CXDI-710C Wireless",
        "3.12", "SCINTILLATOR", (0.5, 0.7), (55, 63),
        PrivateBlock(0x0019, "Canon Inc.", 0x17, "DS", "1.0", 0x30),
        "Eunhasu Childrens Medical Center", "7 Sinbi-gil, Yeonhwa-gu, Seongnam", "CXDINICU09",
        transfer_syntax=RLELossless,
    ),
    VendorProfile(
        "H10", "CR", "MONOCHROME2", (0.143,), 11, "KODAK", "DR 7500",
        "5.3.419", "SCINTILLATOR", (0.6, 0.9), (56, 64),
        PrivateBlock(0x0029, "Kodak Image Information", 0x19, "IS", "2", 0x15),
        "Soltaeul University Hospital", "31 Ppuri-ro, Maeul-gu, Cheongju", "DR7500NICU",
    ),
    VendorProfile(
        "H11", "CR", "MONOCHROME1", (0.175,), 10, "FUJI PHOTO FILM Co., ltd.", "FCR 5000",
        "A15", "STORAGE", (0.9, 1.3), (55, 62),
        PrivateBlock(0x0009, "FDMS 1.0", 0x04, "SH", "FCR-NICU", 0x30),
        "Mirinae Regional Medical Center", "250 Jogak-ro, Haedoji-gu, Jeonju", "FCRNICU11",
        pixel_spacing=False, imager_spacing=False,
    ),
)


def profile(hospital_index: int) -> VendorProfile:
    """Profile of hospital `hospital_index` (1-based, H01 = 1)."""
    return PROFILES[hospital_index - 1]
