using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CocoLaunch.Attestation.Certificates;

namespace CocoLaunch.Attestation.Tdx.Collateral;

/// <summary>
/// Intel's collateral for verifying a TDX quote offline: TCB info and QE identity, each signed by the Intel SGX TCB
/// Signing certificate (whose chain to the Intel SGX Root CA PCS sends in the TCB-Info-Issuer-Chain header), and the
/// CRLs of the Root CA and the PCK CA. Any part may be absent; the verifier checks what is given.
/// </summary>
public sealed record IntelCollateral(
    SignedDocument? TcbInfoDocument,
    TcbInfo? TcbInfo,
    SignedDocument? QeIdentityDocument,
    QeIdentity? QeIdentity,
    IReadOnlyList<X509Certificate2> SigningChain,
    IReadOnlyList<RevocationList> Crls)
{
    /// <summary>From PCS responses saved as files: the bodies of /tcb and /qe/identity, the issuer chain, CRLs (DER or PEM).</summary>
    public static IntelCollateral FromPcsFiles(
        (byte[] Body, string Name)? tcbInfo,
        (byte[] Body, string Name)? qeIdentity,
        (byte[] Pem, string Name)? signingChain,
        IEnumerable<(byte[] Bytes, string Name)> crls)
    {
        var tcbDocument = tcbInfo is { } t ? SignedDocument.FromPcsBody(t.Body, "tcbInfo", t.Name) : null;
        var qeDocument = qeIdentity is { } q ? SignedDocument.FromPcsBody(q.Body, "enclaveIdentity", q.Name) : null;
        return new IntelCollateral(
            tcbDocument,
            tcbDocument is null ? null : TcbInfo.Parse(tcbDocument.Signed, tcbDocument.File),
            qeDocument,
            qeDocument is null ? null : QeIdentity.Parse(qeDocument.Signed, qeDocument.File),
            signingChain is { } c ? Chain(Encoding.ASCII.GetString(c.Pem), c.Name) : [],
            [.. crls.Select(x => RevocationList.Parse(x.Bytes, x.Name))]);
    }

    /// <summary>
    /// From one JSON document in the form dcap-qvl's get_collateral and Phala's attestation API give (QuoteCollateralV3):
    /// tcb_info and qe_identity as the signed JSON text, their signatures in hex, the issuer chains in PEM, and the
    /// root CA and PCK CRLs as hex DER. PCS signs TCB info and QE identity with the same TCB Signing certificate, so
    /// tcb_info_issuer_chain serves both; qe_identity_issuer_chain repeats it, and pck_crl_issuer_chain repeats the
    /// quote's own PCK CA and root.
    /// </summary>
    public static IntelCollateral FromQuoteCollateralJson(byte[] json, string file)
    {
        var root = JsonField.Root(json, "collateral", file);
        var tcbDocument = new SignedDocument($"{file} (tcb_info)", Encoding.UTF8.GetBytes(root.String("tcb_info")), SignedDocument.ReadSignature(root.String("tcb_info_signature"), file, "collateral.tcb_info_signature"));
        var qeDocument = new SignedDocument($"{file} (qe_identity)", Encoding.UTF8.GetBytes(root.String("qe_identity")), SignedDocument.ReadSignature(root.String("qe_identity_signature"), file, "collateral.qe_identity_signature"));
        var crls = new List<RevocationList>();
        foreach (string field in new[] { "root_ca_crl", "pck_crl" })
        {
            string hex = root.String(field);
            crls.Add(hex.Length % 2 == 0 && hex.All(char.IsAsciiHexDigit)
                ? RevocationList.Parse(Convert.FromHexString(hex), $"{file} ({field})")
                : throw root.Fail($"collateral.{field} is not hex DER"));
        }

        return new IntelCollateral(
            tcbDocument,
            TcbInfo.Parse(tcbDocument.Signed, tcbDocument.File),
            qeDocument,
            QeIdentity.Parse(qeDocument.Signed, qeDocument.File),
            Chain(root.String("tcb_info_issuer_chain"), $"{file} (tcb_info_issuer_chain)"),
            crls);
    }

    /// <summary>PEM certificates, leaf (the TCB Signing certificate) first.</summary>
    private static X509Certificate2[] Chain(string pem, string name) => PemCertificates.Read(pem, $"{name}: the issuer chain");
}
