using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace CocoLaunch.Attestation.Tdx;

/// <summary>
/// The SGX extensions of a PCK certificate (arc 1.2.840.113741.1.13.1), which name the platform the TCB info is
/// issued for: FMSPC and PCE-ID, and the platform's TCB at issue time: the 16 SGX TCB component SVNs and the PCE SVN.
/// Intel's TCB info levels are compared against these (go-tdx-guest pcs/pcs.go reads the same fields).
/// </summary>
public sealed record PckExtensions(byte[] Fmspc, byte[] PceId, byte[] SgxTcbComponents, int PceSvn)
{
    private const string Arc = "1.2.840.113741.1.13.1";
    private const string TcbArc = Arc + ".2.";

    /// <summary>The extensions, or null with <paramref name="problem"/> saying what is missing or malformed.</summary>
    public static PckExtensions? Read(X509Certificate2 pck, out string? problem)
    {
        problem = null;
        if (pck.Extensions.FirstOrDefault(e => e.Oid?.Value == Arc) is not { } extension)
        {
            problem = $"the PCK certificate has no SGX extensions ({Arc})";
            return null;
        }

        try
        {
            byte[]? fmspc = null, pceId = null, components = null;
            int? pceSvn = null;
            var entries = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
            while (entries.HasData)
            {
                var entry = entries.ReadSequence();
                switch (entry.ReadObjectIdentifier())
                {
                    case Arc + ".4":
                        fmspc = entry.ReadOctetString();
                        break;
                    case Arc + ".3":
                        pceId = entry.ReadOctetString();
                        break;
                    case Arc + ".2":
                        (components, pceSvn) = ReadTcb(entry.ReadSequence());
                        break;
                    default:
                        break;
                }
            }

            problem = (fmspc?.Length, pceId?.Length, components, pceSvn) switch
            {
                (not 6, _, _, _) => "the PCK certificate's FMSPC (.4) is missing or not 6 bytes",
                (_, not 2, _, _) => "the PCK certificate's PCE-ID (.3) is missing or not 2 bytes",
                (_, _, null, _) or (_, _, _, null) => "the PCK certificate's TCB (.2) lacks SGX component SVNs 1–16 or the PCE SVN",
                _ => null,
            };
            return problem is null ? new PckExtensions(fmspc!, pceId!, components!, pceSvn!.Value) : null;
        }
        catch (Exception e) when (e is AsnContentException or OverflowException)
        {
            problem = $"the PCK certificate's SGX extensions cannot be read ({e.Message.TrimEnd('.')})";
            return null;
        }
    }

    /// <summary>TCB: SEQUENCE of { OID .2.1–.2.16 INTEGER component SVN, .2.17 INTEGER PCE SVN, .2.18 OCTET STRING CPUSVN }.</summary>
    private static (byte[]? Components, int? PceSvn) ReadTcb(AsnReader tcb)
    {
        var components = new int?[16];
        int? pceSvn = null;
        while (tcb.HasData)
        {
            var item = tcb.ReadSequence();
            string oid = item.ReadObjectIdentifier();
            if (!oid.StartsWith(TcbArc, StringComparison.Ordinal) || !int.TryParse(oid.AsSpan(TcbArc.Length), out int n))
            {
                continue;
            }

            if (n is >= 1 and <= 16)
            {
                components[n - 1] = checked((byte)(int)item.ReadInteger());
            }
            else if (n == 17)
            {
                pceSvn = checked((ushort)(int)item.ReadInteger());
            }
        }

        return (components.All(c => c is not null) ? [.. components.Select(c => (byte)c!.Value)] : null, pceSvn);
    }
}
