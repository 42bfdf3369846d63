"""Quality metrics of what crossed the link: tokens (error rate, in
:mod:`.token_errors`), images (PSNR, MS-SSIM, in :mod:`.image_quality`) and
text (MiniLM sentence similarity, in :mod:`.semantic`)."""
