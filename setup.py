"""TokenCom-SDR: token communication over a real OFDM radio link."""

from setuptools import find_packages, setup

setup(
    name="tokencom-sdr",
    version="0.1.0",
    description="Token communication (TokenCom) over GNU Radio OFDM: "
                "BPE/VQ tokens, packets, a real PHY and context-aware recovery",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["tokencom_sdr", "tokencom_sdr.*"]),
    package_data={"tokencom_sdr": ["models.json", "tokens/data/*.json",
                                   "context/data/*.safetensors",
                                   "tokens/data/*.safetensors", "radio/profiles/*.yaml"]},
    include_package_data=True,
    install_requires=[
        # GNU Radio itself comes from Debian (apt gnuradio), seen through the
        # venv's --system-site-packages; it is not on PyPI.
        "numpy<2",
        "torch==2.13.0",
        "tokenizers>=0.15",
        "safetensors>=0.4",
        "pyyaml>=6",
        "tqdm>=4.60",
        "matplotlib>=3.6",
        "scipy>=1.10",
        # Compiles the LDPC min-sum decoder (tokencom_sdr/phy/min_sum.py);
        # 0.60 supports numpy 1.26 and Python 3.11.
        "numba==0.60.0",
        # Soft Viterbi for TokCom's reference K=3 (5,7) convolutional code:
        # gr-fec's cc_decoder only supports K=7.
        "scikit-commpy==0.8.0",
        # SigMF recordings (rx --record / --replay).
        "sigmf>=1.2",
        # Images: I/O, and the offline public-domain training/evaluation
        # images (scikit-image, scikit-learn and pygame-ce ship them).
        "Pillow>=9",
        "scikit-image>=0.21",
        "scikit-learn>=1.3",
        "pygame-ce>=2.4",
        # tokencom sweep: points on a Dask cluster (a LocalCluster or an
        # existing scheduler), results as Parquet. pyarrow 23+ refuses numpy
        # < 2 at import (constraints.txt pins it too).
        "dask[distributed]==2026.8.0",
        # One BLAS/OpenMP thread per sweep point: an idle OpenBLAS thread
        # spins in sched_yield and took a third of a serial point's CPU.
        "threadpoolctl>=3.1",
        "pyarrow>=14,<23",
        # Range coding of text tokens with the context model's prior
        # (tokencom_sdr.compression, tokencom bits-eval); 0.5.0 verified
        # with numpy 1.26.4.
        "constriction==0.5.0",
    ],
    extras_require={
        # ldpc: the reference BpDecoder that tests/phy/test_min_sum.py holds
        # our min-sum decoder to, word for word.
        "test": ["pytest>=7", "pytest-timeout>=2.1", "hypothesis>=6.80", "ldpc==2.4.1"],
        # PlutoSDR through pyadi-iio (gr-iio from Debian is used by default).
        "radio": ["pyadi-iio>=0.0.21", "pylibiio==0.25"],
    },
    entry_points={"console_scripts": ["tokencom = tokencom_sdr.cli:main"]},
)
