namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>A TCB level: the component SVNs a platform must have at least, and what Intel says of such a platform.</summary>
/// <param name="SgxComponents">16 SGX TCB component SVNs, compared with the PCK certificate's.</param>
/// <param name="TdxComponents">16 TDX TCB component SVNs, compared with the quote's TEE_TCB_SVN; null in SGX TCB info.</param>
public sealed record TcbLevel(byte[] SgxComponents, int PceSvn, byte[]? TdxComponents, DateTimeOffset TcbDate, string Status, IReadOnlyList<string> Advisories);

/// <summary>A TCB level of a TDX module or of the QE, by ISV SVN alone.</summary>
public sealed record IsvSvnLevel(int IsvSvn, DateTimeOffset TcbDate, string Status, IReadOnlyList<string> Advisories);

/// <summary>A TDX module's identity ("TDX_01"): who signs it (MRSIGNERSEAM), its SEAM attributes under a mask, and its levels.</summary>
public sealed record TdxModuleIdentity(string Id, byte[] MrSigner, byte[] Attributes, byte[] AttributesMask, IReadOnlyList<IsvSvnLevel> Levels);

/// <summary>
/// Intel's TCB info, version 3 (the form PCS serves for TDX at /tdx/certification/v4/tcb): the platform (FMSPC,
/// PCE-ID) it describes, when it was issued and when the next one is due, the TDX module identities, and the TCB
/// levels in the order Intel lists them, newest first.
/// </summary>
public sealed record TcbInfo(
    string Id,
    int Version,
    DateTimeOffset IssueDate,
    DateTimeOffset NextUpdate,
    byte[] Fmspc,
    byte[] PceId,
    int EvaluationDataNumber,
    TdxModuleIdentity? TdxModule,
    IReadOnlyList<TdxModuleIdentity> TdxModuleIdentities,
    IReadOnlyList<TcbLevel> Levels)
{
    /// <summary>Reads the signed "tcbInfo" object; <paramref name="file"/> names it in errors.</summary>
    public static TcbInfo Parse(ReadOnlyMemory<byte> json, string file)
    {
        var root = JsonField.Root(json, "tcbInfo", file);
        int version = root.Int("version", 255);
        if (version != 3)
        {
            throw root.Fail($"tcbInfo.version is {version}: only version 3 (with TDX TCB components) is read");
        }

        return new TcbInfo(
            root.String("id"),
            version,
            root.Date("issueDate"),
            root.Date("nextUpdate"),
            root.Hex("fmspc", 6),
            root.Hex("pceId", 2),
            root.Int("tcbEvaluationDataNumber", int.MaxValue),
            root.TryGet("tdxModule") is { } module ? Module(module, "tdxModule", null) : null,
            root.TryGet("tdxModuleIdentities") is null ? [] : [.. root.Items("tdxModuleIdentities").Select(m => Module(m, m.String("id"), m.Items("tcbLevels").Select(IsvSvnLevelOf).ToList()))],
            [.. root.Items("tcbLevels").Select(Level)]);
    }

    private static TdxModuleIdentity Module(JsonField m, string id, IReadOnlyList<IsvSvnLevel>? levels) =>
        new(id, m.Hex("mrsigner", 48), m.Hex("attributes", 8), m.Hex("attributesMask", 8), levels ?? []);

    private static TcbLevel Level(JsonField level)
    {
        var tcb = level.Get("tcb");
        return new TcbLevel(
            Components(tcb, "sgxtcbcomponents"),
            tcb.Int("pcesvn", ushort.MaxValue),
            tcb.TryGet("tdxtcbcomponents") is null ? null : Components(tcb, "tdxtcbcomponents"),
            level.Date("tcbDate"),
            Status(level),
            Advisories(level));
    }

    private static byte[] Components(JsonField tcb, string name)
    {
        var items = tcb.Items(name).ToList();
        return items.Count == 16 ? [.. items.Select(c => (byte)c.Int("svn", 255))] : throw tcb.Fail($"{tcb.Path}.{name} has {items.Count} components, not 16");
    }

    internal static IsvSvnLevel IsvSvnLevelOf(JsonField level) =>
        new(level.Get("tcb").Int("isvsvn", ushort.MaxValue), level.Date("tcbDate"), Status(level), Advisories(level));

    internal static string Status(JsonField level)
    {
        string status = level.String("tcbStatus");
        return TcbStatus.Stated.Contains(status) ? status : throw level.Fail($"{level.Path}.tcbStatus is '{status}', not one of {string.Join(", ", TcbStatus.Stated)}");
    }

    internal static IReadOnlyList<string> Advisories(JsonField level) =>
        level.TryGet("advisoryIDs") is null ? [] : [.. level.Items("advisoryIDs").Select(a => a.Text())];
}
