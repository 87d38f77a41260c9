namespace CocoLaunch.Firmware.Snp;

/// <summary>SNP_LAUNCH_UPDATE page types (SNP firmware ABI, PAGE_INFO.PAGE_TYPE).</summary>
public enum SnpPageType : byte
{
    Normal = 1,
    Vmsa = 2,
    Zero = 3,
    Unmeasured = 4,
    Secrets = 5,
    Cpuid = 6,
}
