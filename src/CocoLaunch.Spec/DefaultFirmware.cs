namespace CocoLaunch.Spec;

/// <summary>
/// The firmware a spec gets when it names none: for <c>platform: tdx</c> with a kernel, the Linux TD firmware
/// (samples/linux-tdx), and for <c>platform: snp</c> with a kernel, the Linux SNP firmware (samples/linux-snp),
/// which the tool carries beside itself; the CLI says where at start-up.
/// </summary>
public static class DefaultFirmware
{
    /// <summary>The Linux TD firmware's path, or null when this build does not carry it.</summary>
    public static string? LinuxTdPath { get; set; }

    /// <summary>The Linux SNP firmware's path, or null when this build does not carry it.</summary>
    public static string? LinuxSnpPath { get; set; }
}
