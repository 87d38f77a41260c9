namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// Intel's identity of the quoting enclave, version 2 (PCS /tdx/certification/v4/qe/identity, id "TD_QE"): the
/// MRSIGNER and ISVPRODID a genuine TD QE has, its MISCSELECT and ATTRIBUTES under masks, and the TCB levels of its
/// ISV SVN, newest first.
/// </summary>
public sealed record QeIdentity(
    string Id,
    int Version,
    DateTimeOffset IssueDate,
    DateTimeOffset NextUpdate,
    int EvaluationDataNumber,
    byte[] MiscSelect,
    byte[] MiscSelectMask,
    byte[] Attributes,
    byte[] AttributesMask,
    byte[] MrSigner,
    int IsvProdId,
    IReadOnlyList<IsvSvnLevel> Levels)
{
    /// <summary>Reads the signed "enclaveIdentity" object; <paramref name="file"/> names it in errors.</summary>
    public static QeIdentity Parse(ReadOnlyMemory<byte> json, string file)
    {
        var root = JsonField.Root(json, "enclaveIdentity", file);
        int version = root.Int("version", 255);
        if (version != 2)
        {
            throw root.Fail($"enclaveIdentity.version is {version}: only version 2 is read");
        }

        return new QeIdentity(
            root.String("id"),
            version,
            root.Date("issueDate"),
            root.Date("nextUpdate"),
            root.Int("tcbEvaluationDataNumber", int.MaxValue),
            root.Hex("miscselect", 4),
            root.Hex("miscselectMask", 4),
            root.Hex("attributes", 16),
            root.Hex("attributesMask", 16),
            root.Hex("mrsigner", 32),
            root.Int("isvprodid", ushort.MaxValue),
            [.. root.Items("tcbLevels").Select(TcbInfo.IsvSvnLevelOf)]);
    }
}
