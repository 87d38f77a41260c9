namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// Intel's TCB statuses: those a TCB level in TCB info or QE identity states, and those a verifier derives when it
/// combines the platform's, the TDX module's and the QE's (Intel's Quote Verification Library,
/// Src/AttestationLibrary/src/Verifiers/Checks/TcbLevelCheck.cpp, TdxModuleCheck.cpp and TDRelaunchCheck.cpp).
/// </summary>
public static class TcbStatus
{
    public const string UpToDate = "UpToDate", SwHardeningNeeded = "SWHardeningNeeded", ConfigurationNeeded = "ConfigurationNeeded";
    public const string ConfigurationAndSwHardeningNeeded = "ConfigurationAndSWHardeningNeeded", OutOfDate = "OutOfDate";
    public const string OutOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded", Revoked = "Revoked";
    public const string TdRelaunchAdvised = "TDRelaunchAdvised", TdRelaunchAdvisedConfigurationNeeded = "TDRelaunchAdvisedConfigurationNeeded";

    /// <summary>What a TCB level in the collateral may say.</summary>
    public static readonly IReadOnlySet<string> Stated = new HashSet<string>(StringComparer.Ordinal)
    {
        UpToDate, SwHardeningNeeded, ConfigurationNeeded, ConfigurationAndSwHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked,
    };

    /// <summary>Every status a verification can end in.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(Stated.Append(TdRelaunchAdvised).Append(TdRelaunchAdvisedConfigurationNeeded), StringComparer.Ordinal);

    /// <summary>An out-of-date TDX module or QE makes an otherwise current platform out of date; a revoked one revokes it.</summary>
    public static string Converge(string platform, string component) => component switch
    {
        OutOfDate when platform is UpToDate or SwHardeningNeeded => OutOfDate,
        OutOfDate when platform is ConfigurationNeeded or ConfigurationAndSwHardeningNeeded => OutOfDateConfigurationNeeded,
        Revoked => Revoked,
        _ => platform,
    };

    public static bool NeedsConfiguration(string status) =>
        status is ConfigurationNeeded or OutOfDateConfigurationNeeded or ConfigurationAndSwHardeningNeeded or TdRelaunchAdvisedConfigurationNeeded;
}
