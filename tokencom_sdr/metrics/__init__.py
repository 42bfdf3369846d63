"""Quality metrics of what crossed the link: images (PSNR, MS-SSIM, in
:mod:`.image_quality`) and text (MiniLM sentence similarity, in :mod:`.semantic`)."""
