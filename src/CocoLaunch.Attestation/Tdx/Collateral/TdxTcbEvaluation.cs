namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>The TCB status a quote earns against TCB info, or null when no level fits; with the advisories and how it was reached.</summary>
public sealed record TcbVerdict(string? Status, IReadOnlyList<string> Advisories, string Detail);

/// <summary>
/// Intel's TCB level matching for TDX (TCB info v3; Intel's Quote Verification Library, TcbLevelCheck.cpp,
/// TdxModuleCheck.cpp, TDRelaunchCheck.cpp): the first level, newest first, whose SGX components and PCE SVN the PCK
/// certificate reaches fixes the SGX status; the first such level whose TDX components TEE_TCB_SVN also reaches fixes
/// the platform status. TEE_TCB_SVN[1] is the TDX module's major version: when it is not 0, the module's own ISV SVN
/// (TEE_TCB_SVN[0]) is judged by the module identity "TDX_&lt;major&gt;" and bytes 0–1 leave the component comparison.
/// </summary>
public static class TdxTcbEvaluation
{
    public static TcbVerdict Evaluate(TcbInfo info, PckExtensions pck, TdxQuote quote, IsvSvnLevel? qeLevel)
    {
        var tee = quote.TeeTcbSvn.ToArray();
        int first = tee[1] > 0 ? 2 : 0;
        TcbLevel? sgxLevel = null, tdxLevel = null;
        foreach (var level in info.Levels)
        {
            if (!AtLeast(pck.SgxTcbComponents, level.SgxComponents, 0) || pck.PceSvn < level.PceSvn)
            {
                continue;
            }

            sgxLevel ??= level;
            if (level.TdxComponents is { } tdx && AtLeast(tee, tdx, first))
            {
                tdxLevel = level;
                break;
            }
        }

        string platform = $"SGX components {Hex(pck.SgxTcbComponents)}, PCE SVN {pck.PceSvn}, TEE_TCB_SVN {Hex(tee)}";
        if (sgxLevel is null || tdxLevel is null)
        {
            return new(null, [], $"no TCB level of the {info.Levels.Count} is at or below this platform's {(sgxLevel is null ? "SGX components and PCE SVN" : "TEE_TCB_SVN")} ({platform}): Intel does not support it");
        }

        var (module, moduleDetail) = ModuleLevel(info, quote.Version, tee);
        if (module is null && moduleDetail is not null)
        {
            return new(null, [], moduleDetail);
        }

        string status = TcbStatus.Converge(tdxLevel.Status, module?.Status ?? TcbStatus.UpToDate);
        if (status != TcbStatus.Revoked && quote.IsBody15)
        {
            status = Relaunch(info, quote.TeeTcbSvn2, sgxLevel.Status, status, module?.Status, qeLevel?.Status);
        }

        if (qeLevel is not null)
        {
            status = TcbStatus.Converge(status, qeLevel.Status);
        }

        var advisories = tdxLevel.Advisories.Concat(module?.Advisories ?? []).Concat(qeLevel?.Advisories ?? []).Distinct().ToList();
        string detail = $"level of {tdxLevel.TcbDate:yyyy-MM-dd} ({tdxLevel.Status}) for {platform}"
            + (module is null ? string.Empty : $"; {moduleDetail}")
            + (qeLevel is null ? string.Empty : $"; QE level of {qeLevel.TcbDate:yyyy-MM-dd} ({qeLevel.Status})");
        return new(status, advisories, detail);
    }

    /// <summary>The identity TEE_TCB_SVN[1] names (the "tdxModule" base when it is 0), or null with the reason when TCB info has none.</summary>
    public static (TdxModuleIdentity? Identity, string? Problem) ModuleIdentity(TcbInfo info, ReadOnlySpan<byte> teeTcbSvn)
    {
        if (teeTcbSvn[1] == 0)
        {
            return info.TdxModule is { } m ? (m, null) : (null, "the TCB info has no tdxModule");
        }

        string id = $"TDX_{teeTcbSvn[1]:X2}";
        return info.TdxModuleIdentities.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase)) is { } identity
            ? (identity, null)
            : (null, $"the TCB info has no TDX module identity {id} (TEE_TCB_SVN[1] = {teeTcbSvn[1]}); it has {string.Join(", ", info.TdxModuleIdentities.Select(i => i.Id))}");
    }

    /// <summary>The module's level, null with no problem when the quote names no module version (v4+, TEE_TCB_SVN[1] = 0).</summary>
    private static (IsvSvnLevel? Level, string? Detail) ModuleLevel(TcbInfo info, int quoteVersion, byte[] tee)
    {
        if (quoteVersion > 3 && tee[1] == 0)
        {
            return (null, null);
        }

        var (identity, problem) = ModuleIdentity(info, tee);
        if (identity is null)
        {
            return (null, problem);
        }

        return identity.Levels.FirstOrDefault(l => tee[0] >= l.IsvSvn) is { } level
            ? (level, $"TDX module {identity.Id} ISV SVN {tee[0]}: level of {level.TcbDate:yyyy-MM-dd} ({level.Status})")
            : (null, $"TDX module {identity.Id} ISV SVN {tee[0]} is below every level of its identity: Intel does not support it");
    }

    /// <summary>
    /// TD 1.5: a TD on an out-of-date module whose TEE_TCB_SVN2 (the module it would run on after a relaunch) reaches
    /// the newest level is advised to relaunch rather than called out of date.
    /// </summary>
    private static string Relaunch(TcbInfo info, ReadOnlySpan<byte> svn2, string sgx, string tdx, string? module, string? qe)
    {
        if (qe is TcbStatus.OutOfDate or TcbStatus.Revoked || sgx is not (TcbStatus.UpToDate or TcbStatus.SwHardeningNeeded or TcbStatus.ConfigurationNeeded or TcbStatus.ConfigurationAndSwHardeningNeeded)
            || tdx is not (TcbStatus.OutOfDate or TcbStatus.OutOfDateConfigurationNeeded) || module != TcbStatus.OutOfDate || info.Levels is not [var latest, ..] || latest.TdxComponents is not { } components)
        {
            return tdx;
        }

        int moduleFloor = components[0];
        if (svn2[1] != 0)
        {
            var (identity, _) = ModuleIdentity(info, svn2);
            if (identity is not { Levels: [var newest, ..] })
            {
                return tdx;
            }

            moduleFloor = newest.IsvSvn;
        }

        bool relaunchHelps = svn2[0] >= moduleFloor && svn2[2] >= components[2];
        return !relaunchHelps ? tdx
            : TcbStatus.NeedsConfiguration(sgx) || TcbStatus.NeedsConfiguration(tdx) ? TcbStatus.TdRelaunchAdvisedConfigurationNeeded : TcbStatus.TdRelaunchAdvised;
    }

    private static bool AtLeast(ReadOnlySpan<byte> have, ReadOnlySpan<byte> need, int from)
    {
        for (int i = from; i < need.Length; i++)
        {
            if (have[i] < need[i])
            {
                return false;
            }
        }

        return true;
    }

    private static string Hex(ReadOnlySpan<byte> svns) => Convert.ToHexStringLower(svns);
}
