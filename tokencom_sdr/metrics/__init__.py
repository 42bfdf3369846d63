"""Quality metrics of what crossed the link (image: PSNR, MS-SSIM)."""
